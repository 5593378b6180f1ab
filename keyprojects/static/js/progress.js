// Charts of the monthly-report pages, drawn with the local ECharts (vendor/echarts.min.js).
// Each chart is a <div data-kp-chart="..." data-source="id"> whose data sits in a
// <script type="application/json" id="id"> block (no inline scripts). Amounts arrive as strings.
(function () {
  "use strict";

  var BLUE = "#1d3f72";
  var RED = "#b3261e";
  var GREY = "#8a96a8";
  var GOLD = "#c77700";

  function readData(el) {
    var source = document.getElementById(el.getAttribute("data-source"));
    if (!source) return null;
    try {
      return JSON.parse(source.textContent);
    } catch (e) {
      return null;
    }
  }

  function numbers(values) {
    if (!values) return null;
    return values.map(function (v) {
      return v === null || v === undefined ? null : Number(v);
    });
  }

  function money(value) {
    if (value === null || value === undefined || isNaN(value)) return "—";
    return Number(value).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function projectSeries(el, data) {
    var labels = data.labels;
    var series = [
      {
        name: labels.actual,
        type: "bar",
        data: numbers(data.actual),
        itemStyle: { color: "rgba(29, 63, 114, 0.28)" },
        barMaxWidth: 22,
      },
      {
        name: labels.actual_cumulative,
        type: "line",
        data: numbers(data.actual_cumulative),
        symbolSize: 6,
        lineStyle: { width: 3, color: BLUE },
        itemStyle: { color: BLUE },
      },
      {
        name: labels.last_year_cumulative,
        type: "line",
        data: numbers(data.last_year_cumulative),
        symbolSize: 4,
        lineStyle: { width: 2, color: GREY, type: "dashed" },
        itemStyle: { color: GREY },
      },
    ];
    if (data.plan_cumulative) {
      series.push({
        name: labels.plan_cumulative,
        type: "line",
        data: numbers(data.plan_cumulative),
        symbol: "none",
        lineStyle: { width: 2, color: GOLD, type: "dotted" },
        itemStyle: { color: GOLD },
      });
    }
    if (data.annual_plan) {
      series[1].markLine = {
        silent: true,
        symbol: "none",
        lineStyle: { color: RED, type: "dashed" },
        label: { formatter: labels.annual_plan + " " + money(Number(data.annual_plan)), position: "insideEndTop" },
        data: [{ yAxis: Number(data.annual_plan) }],
      };
    }
    return {
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: money },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value", name: labels.unit, axisLabel: { formatter: function (v) { return v.toLocaleString("zh-CN"); } } },
      series: series,
    };
  }

  function rates(el, data) {
    var time = Number(data.time_progress);
    return {
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + "%"; } },
      grid: { left: 8, right: 24, top: 24, bottom: 8, containLabel: true },
      xAxis: {
        type: "category",
        data: data.labels,
        axisLabel: { interval: 0, rotate: data.labels.length > 8 ? 35 : 0 },
      },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: [
        {
          name: data.names.rate,
          type: "bar",
          barMaxWidth: 36,
          data: numbers(data.rates).map(function (v) {
            return { value: v, itemStyle: { color: v !== null && v < time ? RED : BLUE } };
          }),
          label: { show: data.labels.length <= 12, position: "top", formatter: "{c}%" },
          markLine: {
            silent: true,
            symbol: "none",
            lineStyle: { color: GOLD, type: "dashed", width: 2 },
            label: { formatter: data.names.time + " " + data.time_progress + "%", position: "insideEndTop" },
            data: [{ yAxis: time }],
          },
        },
      ],
    };
  }

  var BUILDERS = { "project-series": projectSeries, rates: rates };

  function draw() {
    if (typeof window.echarts === "undefined") return;
    var charts = [];
    document.querySelectorAll("[data-kp-chart]").forEach(function (el) {
      var build = BUILDERS[el.getAttribute("data-kp-chart")];
      var data = readData(el);
      if (!build || !data) return;
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(el, data));
      el.setAttribute("data-kp-drawn", "true");
      charts.push(chart);
    });
    if (charts.length) {
      window.addEventListener("resize", function () {
        charts.forEach(function (chart) { chart.resize(); });
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
