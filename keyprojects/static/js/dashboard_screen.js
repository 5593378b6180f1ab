// The big screen (大屏): the cockpit's charts and the map in the dark theme, refreshed on a timer
// from the cockpit's JSON (the same figures as the page and the API; the server's cache makes an
// unchanged refresh one small query). Needs dashboard.js (window.KPDash) and dashboard_map.js (window.KPMap).
(function () {
  "use strict";

  var DARK = {
    text: "#e6eefb",
    muted: "#8fa9cf",
    line: "rgba(143, 169, 207, 0.22)",
    blue: "#4fa3ff",
    red: "#ff6b5e",
    gold: "#f2b441",
    grey: "#8fa9cf",
    green: "#4cd08a",
    palette: ["#4fa3ff", "#35c3d6", "#4cd08a", "#f2b441", "#ff6b5e", "#b487ff", "#7fb6ff", "#9fb8da", "#3ddc97", "#ffd166"],
    background: "transparent",
    fontSize: 14,
  };

  function pick(data, path) {
    return path.split(".").reduce(function (v, key) { return v === null || v === undefined ? v : v[key]; }, data);
  }

  function stamp() {
    var el = document.getElementById("kps-updated");
    if (el) {
      var now = new Date();
      el.textContent = now.toLocaleTimeString("zh-CN", { hour12: false });
      el.setAttribute("datetime", now.toISOString());
    }
  }

  function fill(data) {
    document.querySelectorAll("[data-kp-field^='headline.']").forEach(function (el) {
      var value = pick(data, el.getAttribute("data-kp-field"));
      el.textContent = value === null || value === undefined ? "—" : String(value);
    });
    var list = document.getElementById("kps-overdue");
    if (list && data.overdue_problems) {
      list.textContent = "";
      data.overdue_problems.forEach(function (p) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = p.link;
        a.textContent = p.title;
        var days = document.createElement("span");
        days.className = "kps-days";
        days.textContent = data.labels.overdue_days.replace("{n}", String(p.days_overdue));
        var who = document.createElement("span");
        who.className = "kps-who";
        who.textContent = p.lead_unit || "—";
        li.appendChild(a);
        li.appendChild(days);
        li.appendChild(who);
        list.appendChild(li);
      });
    }
  }

  function start() {
    if (typeof window.echarts === "undefined" || !window.KPDash || !window.KPMap) return;
    var data = window.KPDash.readJSON("kp-cockpit");
    var config = window.KPDash.readJSON("kp-map-config");
    if (!data || !config) return;
    var charts = window.KPDash.drawAll(document, data, DARK);
    var mapEl = document.getElementById("kps-map");
    var map = window.KPMap.mount(mapEl, config, {
      dark: true,
      legend: document.getElementById("kps-legend"),
      projectUrl: config.project,
    });
    stamp();
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
    var seconds = Number(config.refresh_seconds) || 300;
    window.setInterval(function () {
      fetch(config.data_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (fresh) {
          fill(fresh);
          window.KPDash.drawAll(document, fresh, DARK);
          map.reload();
          stamp();
        })
        .catch(function () { /* keep showing the last figures; the next tick tries again */ });
    }, seconds * 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
