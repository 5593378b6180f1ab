// The map (一张图): project points on the district's outline, with the local ECharts (no tile server).
// <div data-kp-map="config-id"> reads its settings from <script type="application/json" id="config-id">:
// outline (GeoJSON URL), points (URL of the filtered points), query (the list filters), card (URL
// template of a project's card), towns_by_code / towns_by_name (town unit ids), colours, labels.
// A click on a point shows the project's card; a click on a town opens that town's project list.
// Shared with the big screen (window.KPMap.mount with the dark theme).
(function () {
  "use strict";

  var MAP_NAME = "kp-district";
  var THEMES = {
    light: { area: "#e9eff8", areaHover: "#d5e2f3", border: "#8fa3c0", label: "#5b6b82", bg: "transparent" },
    dark: { area: "#0f2a4d", areaHover: "#17406f", border: "#3f79c4", label: "#9fb8da", bg: "transparent" },
  };

  // Tooltips are HTML: project and town names are escaped.
  function echartsEscape(text) {
    return window.echarts.format.encodeHTML(String(text === undefined || text === null ? "" : text));
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(r.status + " " + url);
      return r.json();
    });
  }

  function townIdOf(props, config) {
    var keys = ["code", "adcode"];
    for (var i = 0; i < keys.length; i++) {
      var v = props[keys[i]];
      if (v !== undefined && v !== null && config.towns_by_code[String(v)]) return config.towns_by_code[String(v)];
    }
    return props.name ? config.towns_by_name[String(props.name)] || null : null;
  }

  function symbolSize(investment) {
    // 1亿 → 7 px, 10亿 → 11 px, 100亿 → 15 px
    var yi = Math.max(Number(investment) / 10000, 0.1);
    return Math.max(5, Math.min(18, 7 + 4 * Math.log10(yi)));
  }

  function legend(target, entries, counts, labels) {
    if (!target) return;
    target.textContent = "";
    entries.forEach(function (e) {
      var item = document.createElement("span");
      var dot = document.createElement("span");
      dot.className = "kp-legend-dot";
      dot.style.background = e.colour;
      item.appendChild(dot);
      item.appendChild(document.createTextNode(e.label + " " + (counts[e.key] || 0)));
      target.appendChild(item);
    });
  }

  function mount(el, config, options) {
    options = options || {};
    var theme = THEMES[options.dark ? "dark" : "light"];
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    var colourBy = config.colour === "status" ? "status" : "stage";
    var colours = {};
    config.colours[colourBy].forEach(function (e) { colours[e.key] = e.colour; });
    var townByRegion = {};

    function showCard(id) {
      var target = options.card;
      if (!target) return;
      fetch(config.card.replace("{id}", String(id)), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { target.innerHTML = html; })
        .catch(function () { target.textContent = "—"; });
    }

    chart.on("click", function (p) {
      if (p.seriesType === "scatter" && p.data) {
        if (options.card) showCard(p.data.id);
        else if (options.projectUrl) window.location.href = options.projectUrl.replace("{id}", String(p.data.id));
      } else if (p.componentType === "geo" || p.componentType === "series") {
        var town = townByRegion[p.name];
        if (town && !options.noTownLinks) {
          var q = config.query ? config.query.replace(/(^|&)town=[^&]*/g, "") : "";
          q = (q ? q.replace(/^&/, "") + "&" : "") + "town=" + town;
          window.location.href = config.project_list + "?" + q;
        }
      }
    });

    function draw(points) {
      var counts = {};
      var data = points.features.map(function (f) {
        var p = f.properties;
        var key = p[colourBy];
        counts[key] = (counts[key] || 0) + 1;
        return {
          name: p.name, id: p.id, value: f.geometry.coordinates, investment: p.total_investment,
          symbolSize: symbolSize(p.total_investment), itemStyle: { color: colours[key] || "#888" },
        };
      });
      chart.setOption({
        series: [{
          type: "scatter", coordinateSystem: "geo", data: data, cursor: "pointer",
          large: data.length > 4000, largeThreshold: 4000, progressive: 4000,
          itemStyle: { opacity: 0.9, borderColor: options.dark ? "#0b1d36" : "#fff", borderWidth: 0.6 },
          emphasis: { scale: 1.6 },
          tooltip: {
            formatter: function (p) {
              var yi = Number(p.data.investment) / 10000;
              var amount = yi >= 1 ? yi.toFixed(2) + config.labels.unit_yi : Number(p.data.investment).toFixed(2) + config.labels.unit_wan;
              return echartsEscape(p.data.name) + "<br>" + amount;
            },
          },
        }],
      });
      legend(options.legend, config.colours[colourBy], counts, config.labels);
      if (options.count) options.count.textContent = data.length + " " + config.labels.projects;
      if (options.note) {
        options.note.textContent = points.unplaced ? points.unplaced + " " + config.labels.unplaced : "";
      }
      el.setAttribute("data-kp-drawn", "true");
      el.setAttribute("data-kp-points", String(data.length));
    }

    function loadPoints() {
      var url = config.points + (config.query ? "?" + config.query : "");
      return getJSON(url).then(draw);
    }

    getJSON(config.outline)
      .then(function (outline) {
        (outline.features || []).forEach(function (f, i) {
          f.properties = f.properties || {};
          if (!f.properties.name) f.properties.name = "#" + (i + 1);
          var town = townIdOf(f.properties, config);
          if (town) townByRegion[f.properties.name] = town;
        });
        window.echarts.registerMap(MAP_NAME, outline);
        chart.setOption({
          animation: false,
          backgroundColor: theme.bg,
          tooltip: { trigger: "item" },
          geo: {
            map: MAP_NAME, roam: true, top: 12, bottom: 12, left: 12, right: 12,
            itemStyle: { areaColor: theme.area, borderColor: theme.border, borderWidth: 1.2 },
            emphasis: { itemStyle: { areaColor: theme.areaHover }, label: { show: true, color: theme.label } },
            label: { show: true, color: theme.label, fontSize: options.dark ? 14 : 12 },
            select: { disabled: true },
            tooltip: {
              show: true,
              formatter: function (p) {
                var name = echartsEscape(p.name);
                return townByRegion[p.name] && !options.noTownLinks ? name + "<br>" + config.labels.town_hint : name;
              },
            },
          },
          series: [],
        });
        return loadPoints();
      })
      .catch(function (e) {
        el.setAttribute("data-kp-error", String(e));
      });

    window.addEventListener("resize", function () { chart.resize(); });
    return { chart: chart, reload: loadPoints };
  }

  window.KPMap = { mount: mount };

  function start() {
    if (typeof window.echarts === "undefined") return;
    document.querySelectorAll("[data-kp-map]").forEach(function (el) {
      if (el.hasAttribute("data-kp-manual")) return;
      var source = document.getElementById(el.getAttribute("data-kp-map"));
      if (!source) return;
      var config = JSON.parse(source.textContent);
      mount(el, config, {
        card: document.getElementById("kp-map-card"),
        legend: document.getElementById("kp-map-legend"),
        count: document.getElementById("kp-map-count"),
        note: document.getElementById("kp-map-note"),
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
