// The cockpit's charts (驾驶舱), drawn with the local ECharts (vendor/echarts.min.js).
// Data: the <script type="application/json" id="kp-cockpit"> block (json_script, no inline scripts).
// Every chart element is <div data-kp-dash="curve|funnel|bar|pie" data-part="...">; a click on a
// segment opens the list behind it (the item's `link`), when the lists can select it.
// The builders are shared with the big screen (window.KPDash, dark theme).
(function () {
  "use strict";

  var LIGHT = {
    text: "#1f2937",
    muted: "#5b6b82",
    line: "#e3e7ee",
    blue: "#1d3f72",
    red: "#b3261e",
    gold: "#c77700",
    grey: "#8a96a8",
    green: "#2e7d32",
    palette: ["#1d3f72", "#3f6fb5", "#1f9d8b", "#c77700", "#d1495b", "#7b2d8e", "#6f8fc4", "#9aa5b4", "#2e7d32", "#e0a100"],
    background: "transparent",
  };
  var YI = 10000; // 万元 per 亿元

  function num(v) {
    return v === null || v === undefined || v === "" ? null : Number(v);
  }

  // Amounts in 亿元 when the largest reaches 1亿, else in 万元.
  function moneyScale(values, labels) {
    var max = 0;
    values.forEach(function (v) {
      if (v !== null && Math.abs(v) > max) max = Math.abs(v);
    });
    return max >= YI ? { div: YI, unit: labels.unit_yi, digits: 2 } : { div: 1, unit: labels.unit_wan, digits: 2 };
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || isNaN(v)) return "—";
    return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function esc(text) {
    return window.echarts.format.encodeHTML(String(text === undefined || text === null ? "" : text));
  }

  function base(theme) {
    return {
      animation: false,
      backgroundColor: theme.background,
      textStyle: { color: theme.text, fontFamily: "inherit", fontSize: theme.fontSize || 12 },
      color: theme.palette,
    };
  }

  function axisStyle(theme) {
    return {
      axisLine: { lineStyle: { color: theme.line } },
      axisLabel: { color: theme.muted, fontSize: theme.fontSize || 12 },
      splitLine: { lineStyle: { color: theme.line } },
      nameTextStyle: { color: theme.muted },
    };
  }

  function merge(a, b) {
    var out = {};
    Object.keys(a).forEach(function (k) { out[k] = a[k]; });
    Object.keys(b).forEach(function (k) { out[k] = b[k]; });
    return out;
  }

  function curve(data, theme) {
    var L = data.labels;
    var c = data.curve;
    var all = [].concat(c.this_year.map(num), c.last_year.map(num), c.plan.map(num));
    var s = moneyScale(all, L);
    function scaled(list) {
      return list.map(function (v) { v = num(v); return v === null ? null : v / s.div; });
    }
    return merge(base(theme), {
      tooltip: { trigger: "axis", valueFormatter: function (v) { return fmt(v, s.digits) + " " + s.unit; } },
      legend: { top: 0, textStyle: { color: theme.text, fontSize: theme.fontSize || 12 } },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: merge(axisStyle(theme), { type: "category", data: L.months, boundaryGap: false }),
      yAxis: merge(axisStyle(theme), { type: "value", name: s.unit }),
      series: [
        {
          name: L.this_year, type: "line", data: scaled(c.this_year), symbolSize: 7,
          lineStyle: { width: 3, color: theme.blue }, itemStyle: { color: theme.blue },
          areaStyle: { color: theme.blue, opacity: 0.08 },
        },
        {
          name: L.last_year, type: "line", data: scaled(c.last_year), symbolSize: 4,
          lineStyle: { width: 2, type: "dashed", color: theme.grey }, itemStyle: { color: theme.grey },
        },
        {
          name: L.plan, type: "line", data: scaled(c.plan), symbol: "none",
          lineStyle: { width: 2, type: "dotted", color: theme.gold }, itemStyle: { color: theme.gold },
        },
      ],
    });
  }

  function funnel(data, theme) {
    var items = data.funnel.map(function (g, i) {
      return {
        name: g.label, value: g.projects, link: g.link, ratio: g.ratio,
        itemStyle: { color: theme.palette[i % theme.palette.length] },
      };
    });
    return merge(base(theme), {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var text = esc(p.name) + "：" + p.value;
          if (p.data.ratio) text += "（" + p.data.ratio + "%）";
          return text;
        },
      },
      series: [{
        type: "funnel", left: "6%", right: "6%", top: 8, bottom: 8, minSize: "22%", sort: "none", gap: 3,
        cursor: "pointer",
        label: {
          position: "inside", color: "#fff", fontWeight: 600, fontSize: (theme.fontSize || 12) + 1,
          formatter: function (p) { return p.name + "  " + p.value + (p.data.ratio ? "  (" + p.data.ratio + "%)" : ""); },
        },
        data: items,
      }],
    });
  }

  function bar(data, theme, el) {
    var L = data.labels;
    var groups = data.breakdowns[el.getAttribute("data-part")] || [];
    var money = groups.map(function (g) { return num(g.total_investment); });
    var s = moneyScale(money, L);
    if (el.getAttribute("data-orient") === "horizontal") return investmentBars(groups, s, theme);
    var names = groups.map(function (g) { return g.label; });
    var counts = groups.map(function (g) { return { value: g.projects, link: g.link }; });
    var amounts = groups.map(function (g) { return { value: num(g.total_investment) / s.div, link: g.link }; });
    return merge(base(theme), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, textStyle: { color: theme.text, fontSize: theme.fontSize || 12 } },
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: merge(axisStyle(theme), {
        type: "category", data: names,
        axisLabel: { color: theme.muted, fontSize: theme.fontSize || 12, interval: 0, rotate: names.length > 6 ? 30 : 0 },
      }),
      yAxis: [
        merge(axisStyle(theme), { type: "value", name: L.projects, minInterval: 1 }),
        merge(axisStyle(theme), { type: "value", name: s.unit, splitLine: { show: false } }),
      ],
      series: [
        {
          name: L.projects, type: "bar", data: counts, barMaxWidth: 28, cursor: "pointer",
          itemStyle: { color: theme.blue },
          label: { show: names.length <= 12, position: "top", color: theme.text },
        },
        {
          name: L.investment + "（" + s.unit + "）", type: "line", data: amounts, cursor: "pointer", yAxisIndex: 1,
          symbolSize: 7, lineStyle: { color: theme.gold, width: 2 }, itemStyle: { color: theme.gold },
          tooltip: { valueFormatter: function (v) { return fmt(v, s.digits) + " " + s.unit; } },
        },
      ],
    });
  }

  // Many categories with long names (industries): total investment as horizontal bars, largest on
  // top, the number of projects at the end of each bar.
  function investmentBars(groups, s, theme) {
    var rows = groups.slice().reverse();
    return merge(base(theme), {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          return esc(p.name) + "：" + fmt(p.value, s.digits) + " " + s.unit + "（" + p.data.projects + "）";
        },
      },
      grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
      xAxis: merge(axisStyle(theme), { type: "value", name: s.unit }),
      yAxis: merge(axisStyle(theme), { type: "category", data: rows.map(function (g) { return g.label; }) }),
      series: [{
        type: "bar", barMaxWidth: 16, cursor: "pointer", itemStyle: { color: theme.blue },
        data: rows.map(function (g) {
          return { value: num(g.total_investment) / s.div, link: g.link, projects: g.projects };
        }),
        label: {
          show: true, position: "right", color: theme.muted,
          formatter: function (p) { return p.data.projects; },
        },
      }],
    });
  }

  function pie(data, theme, el) {
    var L = data.labels;
    var groups = data.breakdowns[el.getAttribute("data-part")] || [];
    var byMoney = el.getAttribute("data-measure") === "total_investment";
    var s = moneyScale(groups.map(function (g) { return num(g.total_investment); }), L);
    var items = groups
      .filter(function (g) { return g.projects > 0; })
      .map(function (g) {
        return { name: g.label, value: byMoney ? num(g.total_investment) / s.div : g.projects, link: g.link, projects: g.projects };
      });
    return merge(base(theme), {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var value = byMoney ? fmt(p.value, s.digits) + " " + s.unit + "（" + p.data.projects + "）" : p.value;
          return esc(p.name) + "：" + value + "，" + p.percent + "%";
        },
      },
      legend: { bottom: 0, itemWidth: 12, itemHeight: 10, textStyle: { color: theme.text, fontSize: 12 } },
      series: [{
        type: "pie", radius: ["38%", "62%"], center: ["50%", "42%"], data: items, cursor: "pointer",
        minShowLabelAngle: 8,
        // Counts sit inside the ring; the money chart names its larger slices outside.
        label: byMoney ? { color: theme.text, formatter: "{b}", overflow: "none" }
          : { position: "inside", color: "#fff", fontWeight: 600, formatter: "{c}" },
        itemStyle: { borderColor: theme.background === "transparent" ? "#fff" : theme.background, borderWidth: 2 },
      }],
    });
  }

  // Responsible units by 年度投资完成率 (the unit ranking), with the 时序进度 line.
  function ranking(data, theme, el) {
    var L = data.labels;
    var limit = Number(el.getAttribute("data-limit") || 0);
    var rows = data.unit_ranking.filter(function (r) { return r.annual_rate !== null; });
    if (limit) rows = rows.slice(0, limit);
    rows = rows.slice().reverse(); // highest at the top of a horizontal bar chart
    var time = num(data.headline.investment.time_progress);
    return merge(base(theme), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return v + "%"; } },
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      xAxis: merge(axisStyle(theme), { type: "value", axisLabel: { color: theme.muted, formatter: "{value}%" } }),
      yAxis: merge(axisStyle(theme), { type: "category", data: rows.map(function (r) { return r.label; }) }),
      series: [{
        name: L.rate, type: "bar", barMaxWidth: 18, cursor: "pointer",
        data: rows.map(function (r) {
          var v = num(r.annual_rate);
          return { value: v, link: r.link, itemStyle: { color: time !== null && v < time ? theme.red : theme.blue } };
        }),
        label: { show: true, position: "right", color: theme.text, formatter: "{c}%" },
        markLine: time === null ? undefined : {
          silent: true, symbol: "none", lineStyle: { color: theme.gold, type: "dashed", width: 2 },
          label: { color: theme.gold, position: "insideEndTop", formatter: L.time_progress + " " + time + "%" },
          data: [{ xAxis: time }],
        },
      }],
    });
  }

  var BUILDERS = { curve: curve, funnel: funnel, bar: bar, pie: pie, ranking: ranking };

  function open(params) {
    var link = params.data && params.data.link;
    if (link) window.location.href = link;
  }

  // Draw (or redraw with new data) every [data-kp-dash] chart inside `root`.
  function drawAll(root, data, theme) {
    var charts = [];
    root.querySelectorAll("[data-kp-dash]").forEach(function (el) {
      var build = BUILDERS[el.getAttribute("data-kp-dash")];
      if (!build) return;
      var chart = window.echarts.getInstanceByDom(el);
      if (!chart) {
        chart = window.echarts.init(el, null, { renderer: "canvas" });
        chart.on("click", open);
      }
      chart.setOption(build(data, theme, el), true);
      el.setAttribute("data-kp-drawn", "true");
      charts.push(chart);
    });
    return charts;
  }

  function readJSON(id) {
    var source = document.getElementById(id);
    if (!source) return null;
    try {
      return JSON.parse(source.textContent);
    } catch (e) {
      return null;
    }
  }

  window.KPDash = { drawAll: drawAll, readJSON: readJSON, LIGHT: LIGHT, fmt: fmt, num: num };

  function start() {
    if (typeof window.echarts === "undefined") return;
    var data = readJSON("kp-cockpit");
    if (!data || document.body.getAttribute("data-kp-screen") === "true") return;
    var charts = drawAll(document, data, LIGHT);
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
