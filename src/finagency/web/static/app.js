// The dashboard's own script. Loaded from /static (never inline): the CSP allows 'self' only.
"use strict";

// A session cookie alone does not prove the page sent a request: every htmx request carries
// the session's CSRF token, which the API checks on unsafe methods.
document.addEventListener("htmx:configRequest", function (event) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  }
});

// The overview's 30-day chart, from the same summary the API serves.
function drawDailyChart(element) {
  if (typeof uPlot === "undefined") {
    return;
  }
  fetch(element.dataset.summaryUrl, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("summary answered " + response.status);
      }
      return response.json();
    })
    .then(function (summary) {
      const days = summary.daily;
      const data = [
        days.map(function (row) { return Date.parse(row.day + "T00:00:00Z") / 1000; }),
        days.map(function (row) { return row.requested; }),
        days.map(function (row) { return row.published; }),
        days.map(function (row) { return row.failed; }),
      ];
      const size = function () {
        return { width: Math.max(element.clientWidth, 280), height: 260 };
      };
      const chart = new uPlot(
        Object.assign(size(), {
          tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
          scales: { y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } } },
          series: [
            { label: "Day (UTC)" },
            { label: "Requested", stroke: "#1f5fbf", width: 2 },
            { label: "Published", stroke: "#1e7b45", width: 2 },
            { label: "Failed", stroke: "#b3261e", width: 2 },
          ],
        }),
        data,
        element
      );
      new ResizeObserver(function () { chart.setSize(size()); }).observe(element);
    })
    .catch(function (error) {
      element.textContent = "The chart could not be drawn (" + error.message + "); the table below has the figures.";
    });
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-summary-url]").forEach(drawDailyChart);
});
