/* The trace waterfall: collapse, search and filter, keyboard moves, span details.
   Data comes from the JSON island #span-data and is shown with textContent only. */
(function () {
  "use strict";
  var spans = JSON.parse(document.getElementById("span-data").textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll("#waterfall tr.span"));
  var panel = document.getElementById("details");
  var search = document.getElementById("search");
  var service = document.getElementById("service");
  var status = document.getElementById("status");
  var counter = document.getElementById("shown");
  var collapsed = {};

  function ms(value) { return value === null || value === undefined ? "?" : value + " ms"; }
  function fmtTime(t) { return t === null ? "?" : new Date(t * 1000).toISOString(); }
  // Controls and bidi marks from the logs are shown as escapes, never obeyed.
  var UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
  function visible(text, layout) {
    return String(text).replace(UNSAFE, function (c) {
      if (layout && c === "\n") { return c; }  // JSON.stringify's own line breaks
      var code = c.charCodeAt(0).toString(16);
      return code.length <= 2 ? "\\x" + ("0" + code).slice(-2) : "\\u" + ("000" + code).slice(-4);
    });
  }
  function add(dl, name, value) {
    if (value === null || value === undefined || value === "") { return; }
    var dt = document.createElement("dt"); dt.textContent = visible(name);
    var dd = document.createElement("dd"); dd.textContent = visible(value);
    dl.appendChild(dt); dl.appendChild(dd);
  }
  function haystack(span) {
    var parts = [span.label, span.service, span.span_id, span.url || "",
                 span.status === null ? "" : String(span.status)];
    if (span.error) { parts.push(span.error.type, span.error.message); }
    span.annotations.forEach(function (a) { parts.push(a.name); });
    return parts.join(" ").toLowerCase();
  }
  var texts = spans.map(haystack);

  function matches(i) {
    var span = spans[i];
    var q = search.value.trim().toLowerCase();
    if (q && texts[i].indexOf(q) < 0) { return false; }
    if (service.value && span.service_index !== service.value) { return false; }
    if (status.value === "failed" && !span.failed) { return false; }
    if (status.value === "ok" && span.failed) { return false; }
    return true;
  }
  function filtering() { return search.value.trim() || service.value || status.value; }

  function refresh() {
    var keep = rows.map(function () { return !filtering(); });
    if (filtering()) {
      rows.forEach(function (row, i) {
        if (!matches(i)) { return; }
        for (var j = i; j >= 0 && !keep[j]; j = spans[j].parent) { keep[j] = true; }
      });
    }
    var shown = 0;
    rows.forEach(function (row, i) {
      var visible = keep[i];
      for (var p = spans[i].parent; visible && p >= 0; p = spans[p].parent) {
        if (collapsed[p] && !filtering()) { visible = false; }
      }
      row.classList.toggle("hidden", !visible);
      shown += visible ? 1 : 0;
      var tog = row.querySelector(".tog");
      if (tog) {
        tog.textContent = collapsed[i] ? "▸" : "▾";
        tog.setAttribute("aria-expanded", collapsed[i] ? "false" : "true");
      }
    });
    counter.textContent = shown + " of " + rows.length + " spans shown";
  }

  function toggle(i, state) {
    if (!spans[i].children) { return; }
    collapsed[i] = state === undefined ? !collapsed[i] : state;
    refresh();
  }

  function show(i) {
    var span = spans[i];
    var old = document.querySelector("tr.selected");
    if (old) { old.classList.remove("selected"); }
    rows[i].classList.add("selected");
    panel.textContent = "";
    var title = document.createElement("h2"); title.textContent = visible(span.label);
    var dl = document.createElement("dl");
    add(dl, "service", span.service);
    add(dl, "kind", span.kind);
    add(dl, "span id", span.span_id);
    add(dl, "parent id", span.parent_id);
    add(dl, "start", fmtTime(span.start_time));
    add(dl, "duration", ms(span.duration_ms));
    add(dl, "status", span.status);
    add(dl, "url", span.url);
    if (span.error) { add(dl, "error", span.error.type + ": " + span.error.message); }
    if (span.finding) { add(dl, "finding", span.finding); }
    if (span.self_ms !== null) { add(dl, "self time", ms(span.self_ms)); }
    if (span.children_ms !== null) { add(dl, "in children", ms(span.children_ms)); }
    if (span.hop) {
      add(dl, "client saw", ms(span.hop.client_ms));
      add(dl, "server spent", ms(span.hop.server_ms));
      add(dl, "gap (network, queueing)", ms(span.hop.gap_ms));
      if (span.hop.attempts > 1) {
        add(dl, "attempts", span.hop.attempts);
        add(dl, "retries cost", ms(span.hop.retry_ms));
      }
    }
    if (span.critical) { add(dl, "critical path", "yes: the trace waited on this span"); }
    if (span.orphan) { add(dl, "orphan", "parent span not in the logs given"); }
    span.annotations.forEach(function (a) {
      add(dl, a.kind === "retry" ? "retry" : "event " + a.name,
          fmtTime(a.time) + " " + JSON.stringify(a.details));
    });
    var pre = document.createElement("pre");
    pre.textContent = visible(JSON.stringify(span.events, null, 2), true);
    panel.appendChild(title); panel.appendChild(dl); panel.appendChild(pre);
    panel.hidden = false;
  }

  function reveal(i) {
    for (var p = spans[i].parent; p >= 0; p = spans[p].parent) { collapsed[p] = false; }
    refresh();
    rows[i].scrollIntoView({block: "center"});
    rows[i].focus();
    show(i);
  }

  function visibleRows() {
    return rows.filter(function (row) { return !row.classList.contains("hidden"); });
  }
  function move(row, step) {
    var list = visibleRows();
    var next = list[list.indexOf(row) + step];
    if (next) { next.focus(); }
  }

  rows.forEach(function (row, i) {
    row.addEventListener("click", function (e) {
      if (e.target.classList.contains("tog")) { toggle(i); } else { show(i); }
    });
    row.addEventListener("keydown", function (e) {
      var key = e.key;
      if (key === "Enter" || key === " ") { show(i); }
      else if (key === "ArrowDown" || key === "j") { move(row, 1); }
      else if (key === "ArrowUp" || key === "k") { move(row, -1); }
      else if (key === "ArrowLeft" || key === "h") {
        if (spans[i].children && !collapsed[i]) { toggle(i, true); }
        else if (spans[i].parent >= 0) { rows[spans[i].parent].focus(); }
      }
      else if (key === "ArrowRight" || key === "l") { toggle(i, false); }
      else { return; }
      e.preventDefault();
    });
  });
  [search, service, status].forEach(function (control) {
    control.addEventListener("input", refresh);
    control.addEventListener("change", refresh);
  });
  document.getElementById("expand").addEventListener("click", function () {
    collapsed = {}; refresh();
  });
  document.getElementById("collapse").addEventListener("click", function () {
    spans.forEach(function (span, i) { if (span.children && span.parent >= 0) { collapsed[i] = true; } });
    refresh();
  });
  document.getElementById("critical").addEventListener("change", function (e) {
    document.body.classList.toggle("nocrit", !e.target.checked);
  });
  var cause = document.getElementById("goto-cause");
  if (cause) {
    cause.addEventListener("click", function () { reveal(Number(cause.getAttribute("data-index"))); });
  }
  document.addEventListener("keydown", function (e) {
    var typing = e.target === search;
    if (e.key === "/" && !typing) { e.preventDefault(); search.focus(); search.select(); }
    else if (e.key === "Escape") {
      if (typing) { search.value = ""; refresh(); search.blur(); }
      panel.hidden = true;
    }
    else if (e.key === "g" && !typing && e.target.tagName !== "SELECT") {
      var list = visibleRows();
      if (list.length) { list[0].focus(); }
    }
  });
  refresh();
})();
