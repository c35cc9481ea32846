// The instrument chart of the Markets pages: candles with SMA overlays and volume below, drawn
// with the vendored uPlot from /markets/{symbol}/chart (the URL comes in data-chart-url).
// Loaded from /static, never inline: the CSP allows 'self' only.
"use strict";

(function () {
  const RISING = "#1e7b45";
  const FALLING = "#b3261e";
  const SMA_STYLES = [
    { stroke: "#1f5fbf", dash: undefined },
    { stroke: "#8a5a00", dash: [6, 4] },
  ];
  const PRICE_HEIGHT = 320;
  const VOLUME_HEIGHT = 110;
  // The same padding and axis width on both charts keep their plots one above the other.
  const PADDING = [8, 16, 0, 0];
  const AXIS_SIZE = 76;

  // Half a bar of room at either end, so the first and last candles are drawn whole. Only for
  // the whole series: a zoom (or the range the price chart passes to the volume) stays as asked.
  function halfBarMargin(u, min, max) {
    const time = u.data[0];
    if (min !== time[0] || max !== time[time.length - 1]) {
      return [min, max];
    }
    const step = time.length > 1 ? (max - min) / (time.length - 1) : 86400;
    return [min - step / 2, max + step / 2];
  }

  function utc(ts) {
    return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");
  }

  // Candles on the canvas: hollow when the close is above the open, filled when below, so the
  // direction reads without colour. The OHLC series themselves draw nothing (paths: null).
  function drawCandles(u) {
    const ctx = u.ctx;
    const [time, open, high, low, close] = u.data;
    const first = Math.max(u.valToIdx(u.scales.x.min), 0);
    const last = Math.min(u.valToIdx(u.scales.x.max), time.length - 1);
    const column = u.bbox.width / Math.max(last - first + 1, 1);
    const line = Math.max(1, Math.round(uPlot.pxRatio));
    const body = Math.max(line, Math.min(column * 0.7, 14 * uPlot.pxRatio));
    ctx.save();
    ctx.setLineDash([]); // the dashed SMA drawn before must not dash the candles
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    ctx.lineWidth = line;
    for (let i = first; i <= last; i++) {
      if (open[i] == null || close[i] == null) {
        continue;
      }
      const x = Math.round(u.valToPos(time[i], "x", true));
      const yHigh = u.valToPos(high[i], "y", true);
      const yLow = u.valToPos(low[i], "y", true);
      const yTop = u.valToPos(Math.max(open[i], close[i]), "y", true);
      const yBottom = u.valToPos(Math.min(open[i], close[i]), "y", true);
      const rising = close[i] >= open[i];
      ctx.fillStyle = ctx.strokeStyle = rising ? RISING : FALLING;
      ctx.fillRect(x - line / 2, yHigh, line, yTop - yHigh);
      ctx.fillRect(x - line / 2, yBottom, line, yLow - yBottom);
      const height = Math.max(yBottom - yTop, line);
      if (rising && body > 3 * line) {
        ctx.strokeRect(x - body / 2 + line / 2, yTop + line / 2, body - line, Math.max(height - line, line));
      } else {
        ctx.fillRect(x - body / 2, yTop, body, height);
      }
    }
    ctx.restore();
  }

  // A formatter for uPlot's legend (u, value) or axis ticks (u, ticks).
  function number(options) {
    const format = new Intl.NumberFormat("en-GB", options);
    return function (u, value) {
      return value == null ? "—" : format.format(value);
    };
  }

  function ticks(options) {
    const one = number(options);
    return function (u, values) {
      return values.map(function (value) { return one(u, value); });
    };
  }

  function priceOptions(body, width, places, syncKey, onZoom) {
    const value = number({ minimumFractionDigits: places, maximumFractionDigits: places });
    const hidden = function () { return null; };
    const ohlc = ["Open", "High", "Low", "Close"].map(function (label) {
      return { label: label, scale: "y", paths: hidden, points: { show: false }, stroke: "#5b6475", value: value };
    });
    const averages = body.sma_periods.map(function (n, index) {
      const style = SMA_STYLES[index % SMA_STYLES.length];
      return { label: "SMA " + n, scale: "y", stroke: style.stroke, dash: style.dash, width: 1.5, value: value, points: { show: false } };
    });
    return {
      width: width,
      height: PRICE_HEIGHT,
      tzDate: utc,
      cursor: { sync: { key: syncKey }, points: { show: false } },
      scales: { x: { time: true, range: halfBarMargin } },
      padding: PADDING,
      axes: [{}, { size: AXIS_SIZE, values: ticks({ maximumFractionDigits: places }) }],
      series: [{ label: "Session (UTC)" }].concat(ohlc, averages),
      hooks: { draw: [drawCandles], setScale: [onZoom] },
    };
  }

  function volumeOptions(width, syncKey) {
    const value = number({ maximumFractionDigits: 0 });
    return {
      width: width,
      height: VOLUME_HEIGHT,
      tzDate: utc,
      cursor: { sync: { key: syncKey }, points: { show: false } },
      scales: { x: { time: true, range: halfBarMargin }, y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } } },
      padding: PADDING,
      axes: [
        { show: false },
        { size: AXIS_SIZE, values: ticks({ notation: "compact", maximumFractionDigits: 1 }) },
      ],
      series: [
        { label: "Session (UTC)" },
        { label: "Volume", stroke: "#7a8599", fill: "rgba(122, 133, 153, 0.45)", paths: uPlot.paths.bars({ size: [0.7, 14] }), points: { show: false }, value: value },
      ],
    };
  }

  function placesFor(body) {
    const last = body.close.length ? Math.abs(body.close[body.close.length - 1]) : 100;
    return last < 10 ? 4 : 2;
  }

  function draw(element, body) {
    if (!body.time.length) {
      element.textContent = "No bars in this range; the table below is empty too.";
      return;
    }
    const syncKey = "markets-" + body.symbol;
    const priceBox = document.createElement("div");
    priceBox.className = "price-chart";
    element.appendChild(priceBox);
    const width = function () { return Math.max(element.clientWidth, 280); };
    const places = placesFor(body);
    const series = [body.time, body.open, body.high, body.low, body.close].concat(
      body.sma_periods.map(function (n) { return body["sma_" + n]; })
    );
    let volume = null;
    // Zooming the price chart zooms the volume with it.
    const onZoom = function (u, key) {
      if (key === "x" && volume) {
        volume.setScale("x", { min: u.scales.x.min, max: u.scales.x.max });
      }
    };
    const charts = [new uPlot(priceOptions(body, width(), places, syncKey, onZoom), series, priceBox)];
    if (body.volume.some(function (v) { return v != null; })) {
      const volumeBox = document.createElement("div");
      volumeBox.className = "volume-chart";
      element.appendChild(volumeBox);
      volume = new uPlot(volumeOptions(width(), syncKey), [body.time, body.volume], volumeBox);
      charts.push(volume);
      onZoom(charts[0], "x");
    } else {
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = "No volume is reported for this instrument.";
      element.appendChild(note);
    }
    new ResizeObserver(function () {
      charts.forEach(function (chart, index) {
        chart.setSize({ width: width(), height: index === 0 ? PRICE_HEIGHT : VOLUME_HEIGHT });
      });
    }).observe(element);
    element.dataset.drawn = String(body.time.length);
  }

  function drawChart(element) {
    if (typeof uPlot === "undefined") {
      element.textContent = "The chart script did not load; the table below has the figures.";
      return;
    }
    fetch(element.dataset.chartUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the chart data answered " + response.status);
        }
        return response.json();
      })
      .then(function (body) { draw(element, body); })
      .catch(function (error) {
        element.textContent = "The chart could not be drawn (" + error.message + "); the table below has the figures.";
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart-url]").forEach(drawChart);
  });
})();
