/* fleetsignals report: draws the charts described in #report-data with uPlot.
 *
 * The page is self-contained: data, uPlot and this script are inline. After
 * drawing, a JSON status (charts drawn, series and points drawn, non-blank
 * pixels, errors, resources fetched) is written into #report-status, so a
 * headless browser's --dump-dom shows whether every chart really drew.
 */
(function () {
  "use strict";
  var errors = window.__reportErrors || [];

  var FORMATS = {
    usd: function (v) {
      if (v == null) return "";
      if (v === 0) return "$0";
      var a = Math.abs(v);
      return "$" + (a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(a >= 0.01 ? 3 : 4));
    },
    int: function (v) { return v == null ? "" : Math.round(v).toLocaleString("en-US"); },
    pct: function (v) { return v == null ? "" : (v * 100).toFixed(v < 0.1 ? 1 : 0) + "%"; },
    num: function (v) {
      if (v == null) return "";
      return Math.abs(v) >= 10 || v === Math.round(v) ? v.toFixed(0) : v.toFixed(2);
    },
  };

  function fmt(name) { return FORMATS[name] || FORMATS.num; }

  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // 24-hour UTC ticks; the date on the first tick and at each midnight.
  function timeTicks(u, splits) {
    return splits.map(function (ts, i) {
      var d = new Date(ts * 1e3);
      var hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
      var day = (d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
      return i === 0 || hm === "00:00" ? hm + "\n" + day : hm;
    });
  }

  // Shaded periods (alerts firing) behind the series, drawn right after the canvas is cleared.
  function bandsPlugin(bands) {
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          bands.forEach(function (b) {
            var x0 = u.valToPos(b.from, "x", true), x1 = u.valToPos(b.to, "x", true);
            var left = Math.max(u.bbox.left, Math.min(x0, x1));
            var right = Math.min(u.bbox.left + u.bbox.width, Math.max(x0, x1));
            if (right < left) return;
            ctx.fillStyle = b.color;
            ctx.fillRect(left, top, Math.max(right - left, 2 * uPlot.pxRatio), height);
          });
          ctx.restore();
        }],
      },
    };
  }

  // uPlot draws after a microtask: count what each draw really put on the canvas.
  function countingPlugin(record, colors) {
    return {
      hooks: {
        drawClear: [function () { record.series = 0; record.points = 0; }],
        drawSeries: [function (u, i) {
          var values = u.data[i] || [];
          var points = 0;
          for (var k = 0; k < values.length; k++) if (values[k] != null) points++;
          if (points > 0) record.series += 1;
          record.points += points;
        }],
        draw: [function (u) {
          var counted = countPixels(u.ctx.canvas, colors);
          record.pixels = counted.any;
          record.series_pixels = counted.series;
          record.drawn = true;
          record.draws = (record.draws || 0) + 1;
        }],
      },
    };
  }

  function timeChart(el, spec, record) {
    var series = [{}];
    var data = [spec.x];
    var scales = { x: { time: true } };
    // Bars are centred on their time: pad the axis by half a step so the ends show whole.
    if (spec.series.some(function (s) { return s.style === "bars"; }) && spec.x.length > 1) {
      var half = (spec.x[1] - spec.x[0]) / 2;
      scales.x.range = function () { return [spec.x[0] - half, spec.x[spec.x.length - 1] + half]; };
    }
    var axes = [{ space: 70, values: timeTicks }];
    var used = {};
    spec.series.forEach(function (s) {
      var axis = s.axis || "y";
      used[axis] = used[axis] || s.fmt;
      var options = {
        label: s.label,
        scale: axis,
        stroke: s.color,
        width: 1.5,
        spanGaps: false,
        value: function (u, v) { return fmt(s.fmt)(v); },
      };
      if (s.style === "bars") {
        options.fill = s.color + "99";
        options.paths = uPlot.paths.bars({ size: [0.8, 60] });
        options.points = { show: false };
      } else if (s.style === "points") {
        options.paths = function () { return null; };
        options.points = { show: true, size: 7, fill: s.color };
      } else {
        options.points = { show: false };
      }
      series.push(options);
      data.push(s.values);
    });
    Object.keys(used).forEach(function (axis) {
      scales[axis] = { auto: true, range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.08 : 1]; } };
      axes.push({
        scale: axis,
        side: axis === "y" ? 3 : 1,
        size: 64,
        grid: { show: axis === "y" },
        label: (spec.axes && spec.axes[axis]) || "",
        values: function (u, ticks) { return ticks.map(fmt(used[axis])); },
      });
    });
    var plugins = [countingPlugin(record, spec.series.map(function (s) { return s.color; }))];
    if (spec.bands && spec.bands.length) plugins.push(bandsPlugin(spec.bands));
    return new uPlot({
      width: chartWidth(el),
      height: spec.height || 220,
      tzDate: utc,
      series: series,
      scales: scales,
      axes: axes,
      plugins: plugins,
      cursor: { drag: { x: true, y: false } },
    }, data, el);
  }

  // Horizontal bars over categories: the category index is the x scale, drawn vertically.
  function barChart(el, spec, record) {
    var n = spec.labels.length;
    var x = spec.labels.map(function (_, i) { return i; });
    var series = [{ value: function (u, i) { return spec.labels[i] == null ? "" : spec.labels[i]; } }];
    var data = [x];
    spec.series.forEach(function (s) {
      series.push({
        label: s.label,
        stroke: s.color,
        fill: s.color + "cc",
        width: 0,
        points: { show: false },
        paths: uPlot.paths.bars({ size: [0.7, 40], align: 0 }),
        value: function (u, v) { return fmt(s.fmt)(v); },
      });
      data.push(s.values);
    });
    var f = fmt(spec.series[0].fmt);
    return new uPlot({
      width: chartWidth(el),
      height: spec.height || Math.max(120, 26 * n + 50),
      series: series,
      scales: {
        x: { time: false, ori: 1, dir: -1, range: [-0.5, n - 0.5] },
        y: { ori: 0, dir: 1, range: function (u, min, max) { return [0, max > 0 ? max * 1.05 : 1]; } },
      },
      axes: [
        {
          side: 3,
          size: 170,
          gap: 4,
          splits: function () { return x; },
          values: function (u, ticks) { return ticks.map(function (t) { return shorten(spec.labels[t]); }); },
          grid: { show: false },
        },
        { side: 2, space: 70, values: function (u, ticks) { return ticks.map(f); } },
      ],
      legend: { show: spec.series.length > 1 },
      cursor: { points: { show: false } },
      plugins: [countingPlugin(record, spec.series.map(function (s) { return s.color; }))],
    }, data, el);
  }

  function shorten(text) {
    text = text == null ? "" : String(text);
    return text.length > 26 ? text.slice(0, 25) + "…" : text;
  }

  function chartWidth(el) {
    return Math.max(320, Math.floor(el.getBoundingClientRect().width || 900));
  }

  function rgb(hex) {
    return [1, 3, 5].map(function (i) { return parseInt(hex.slice(i, i + 2), 16); });
  }

  // Non-blank pixels, and of those the ones in a series colour (mostly opaque, so not an
  // alert band nor an axis label): proof that the data, not just the frame, was drawn.
  function countPixels(canvas, colors) {
    var wanted = colors.map(rgb);
    var pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    var any = 0, series = 0;
    for (var i = 0; i < pixels.length; i += 4) {
      if (pixels[i + 3] === 0) continue;
      any++;
      if (pixels[i + 3] < 128) continue;
      for (var c = 0; c < wanted.length; c++) {
        var w = wanted[c];
        if (Math.abs(pixels[i] - w[0]) + Math.abs(pixels[i + 1] - w[1]) + Math.abs(pixels[i + 2] - w[2]) < 48) {
          series++;
          break;
        }
      }
    }
    return { any: any, series: series };
  }

  var status = { charts: [], errors: errors, resources: 0, done: false };

  function writeStatus() {
    var el = document.getElementById("report-status");
    if (el) el.textContent = JSON.stringify(status);
  }
  // Errors raised after drawing (e.g. in a resize) update the status too.
  window.__reportWriteStatus = writeStatus;

  function main() {
    var specs = JSON.parse(document.getElementById("report-data").textContent).charts;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var id = el.getAttribute("data-chart");
      var record = { id: id, drawn: false, series: 0, points: 0, pixels: 0 };
      status.charts.push(record);
      try {
        var spec = specs[id];
        if (!spec) throw new Error("no chart spec " + id);
        record.expected_series = spec.series.length;
        if (spec.kind === "bars") barChart(el, spec, record);
        else timeChart(el, spec, record);
      } catch (e) {
        errors.push(id + ": " + (e && e.message ? e.message : String(e)));
      }
    });
    // After uPlot's deferred first draw (a microtask, so before any timer) and after the
    // load event, when every resource the page asked for has been fetched or has failed.
    function finish() {
      if (window.performance && performance.getEntriesByType) {
        status.resources = performance.getEntriesByType("resource").length;
      }
      status.done = true;
      writeStatus();
    }
    setTimeout(function () {
      if (document.readyState === "complete") finish();
      else window.addEventListener("load", finish);
    }, 0);
  }

  try {
    main();
  } catch (e) {
    errors.push("report: " + (e && e.message ? e.message : String(e)));
    writeStatus();
  }
})();
