// The status page's inline style and script (status_page.h), kept as constants so the page
// is one self-contained response. The script polls /status every 2 s, writes the figures
// into the elements marked data-f="<field>" (also stamping data-polled with the poll
// count), rebuilds the member, reason and readiness lists, and draws the lag of every
// projection over the samples it collected as polylines in the #lag-chart SVG. Text from
// /status only ever goes through textContent and setAttribute, never innerHTML. Its
// sentences (partition ranges, runner reasons) mirror status_page.cc's.
#pragma once

#include <string_view>

namespace projd::http {

inline constexpr std::string_view kStatusPageStyle = R"css(
body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#1a202c;background:#fff}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse}th,td{text-align:left;padding:2px 10px 2px 0;vertical-align:top}
th{border-bottom:1px solid #cbd5e0}td ul{margin:0;padding-left:1em}
meter{width:12em}code{font-size:.95em}#live{color:#4a5568}.none{color:#718096;list-style:none}
.state[data-state=running],.state[data-state=caught_up],.state[data-state=closed],[data-ready=true]{color:#2f855a}
.state[data-state=held],.state[data-state=stalled],.state[data-state=half_open]{color:#b7791f}
.state[data-state=paused]{color:#b7791f;font-weight:bold}
.state[data-state=failing],.state[data-state=stopped],.state[data-state=open],[data-ready=false]{color:#c53030;font-weight:bold}
#lag-chart{width:100%;max-width:760px;height:auto;border:1px solid #e2e8f0}#lag-chart text{font-size:11px}#lag-chart text:not([fill]){fill:#4a5568}
)css";

inline constexpr std::string_view kStatusPageScript = R"js(
(function () {
  'use strict';
  var kPollMs = 2000, kSamples = 150, polls = 0, samples = [];
  var colors = ['#2b6cb0', '#c53030', '#2f855a', '#6b46c1', '#c05621', '#2c7a7b', '#97266d', '#4a5568'];
  function $(sel, scope) { return (scope || document).querySelector(sel); }
  function put(scope, field, text) {
    var e = $('[data-f="' + field + '"]', scope);
    if (e) { e.textContent = text; e.setAttribute('data-polled', String(polls)); }
    return e;
  }
  function known(v) { return v === null || v === undefined ? 'unknown' : String(v); }
  function seconds(v) { return v === null || v === undefined ? 'unknown' : v.toFixed(1); }
  function ranges(ps) {
    var out = [];
    for (var i = 0; i < ps.length;) {
      var j = i;
      while (j + 1 < ps.length && ps[j + 1] === ps[j] + 1) j++;
      out.push(j > i ? ps[i] + '-' + ps[j] : String(ps[i]));
      i = j + 1;
    }
    return out.join(', ');
  }
  function heldBy(h) {
    var out = 'the high-water mark waits on a live transaction: pid ' + h.pid;
    if (h.xid) out += ', xid ' + h.xid;
    if (h.application_name) out += ', application ' + h.application_name;
    if (h.state) out += ', ' + h.state;
    if (h.xact_start) out += ', since ' + h.xact_start;
    return out;
  }
  function reasons(p, j) {
    var out = p.stopped_partitions.map(function (x) {
      return 'partition ' + x.partition + ' stopped at position ' + x.position + ': ' + x.error;
    });
    var held = j.high_water_mark.held_by;
    if (p.state === 'held') out.push(held ? heldBy(held) : 'the high-water mark waits on a live transaction');
    if (p.state === 'stalled') out.push('events wait but nothing committed lately');
    var paused = p.paused || {every: false, partitions: []};
    if (paused.every) out.push('paused by an operator on every partition');
    else if (paused.partitions.length) {
      out.push('paused by an operator on partition' + (paused.partitions.length > 1 ? 's ' : ' ') +
               paused.partitions.join(', '));
    }
    if ((p.state === 'failing' || p.state === 'stalled') && p.last_error) {
      out.push((p.last_error_database ? 'database error, retried: ' : 'last error: ') + p.last_error);
    }
    return out;
  }
  function list(ul, items, none) {
    ul.textContent = '';
    (items.length ? items : [none]).forEach(function (text) {
      var li = document.createElement('li');
      li.textContent = text;
      if (!items.length) li.className = 'none';
      ul.appendChild(li);
    });
  }
  function state(scope, field, value) { put(scope, field, value).setAttribute('data-state', value); }
  function byProjection(j, fn) {
    document.querySelectorAll('tr[data-projection]').forEach(function (tr) {
      var p = j.projections.find(function (x) { return x.name === tr.getAttribute('data-projection'); });
      if (p) fn(tr, p);
    });
  }
  function header(j) {
    var c = j.coordination;
    put(document, 'generation', String(c.generation));
    put(document, 'acked_generation', String(c.acked_generation));
    put(document, 'mark', known(j.high_water_mark.position));
    put(document, 'ready', j.ready.ready ? 'ready' : 'not ready').setAttribute('data-ready', String(j.ready.ready));
    put(document, 'live_members', String(c.live_members));
    put(document, 'partition_count', String(c.partition_count));
    put(document, 'owned', String(c.owned_partitions.length));
    put(document, 'waiting', String(c.waiting_partitions.length));
    put(document, 'releasing', String(c.releasing_partitions.length));
    var body = $('#members tbody');
    body.textContent = '';
    c.members.forEach(function (m) {
      var tr = body.insertRow();
      tr.insertCell().textContent = m.name + (m.id === j.worker.id ? ' (this worker)' : '');
      tr.insertCell().textContent = ranges(m.partitions);
      tr.insertCell().textContent = String(m.partitions.length);
    });
    if (!c.members.length) {
      var cell = body.insertRow().insertCell();
      cell.colSpan = 3;
      cell.textContent = 'no assignment read yet';
    }
  }
  function projections(j) {
    var maxLag = 1;
    j.projections.forEach(function (p) { maxLag = Math.max(maxLag, p.lag_events || 0); });
    byProjection(j, function (tr, p) {
      if ($('[data-f="lag_bar"]', tr)) {
        var bar = put(tr, 'lag_bar', known(p.lag_events));
        bar.max = maxLag;
        bar.value = p.lag_events || 0;
      }
      if ($('[data-f="reasons"]', tr)) list($('[data-f="reasons"]', tr), reasons(p, j), '-');
      ['partitions', 'position', 'events_processed', 'dead_letters', 'parked_aggregates'].forEach(function (f) {
        put(tr, f, String(p[f]));
      });
      put(tr, 'lag_events', known(p.lag_events));
      put(tr, 'lag_seconds', seconds(p.lag_seconds));
      if ($('[data-f="state"]', tr)) state(tr, 'state', p.state);
    });
  }
  function persistence(j) {
    var s = j.persistence;
    state(document, 'breaker', s.circuit_breaker_state);
    put(document, 'breaker_failures', String(s.circuit_breaker_failure_count));
    put(document, 'breaker_trips', String(s.circuit_breaker_trips));
    put(document, 'pending', String(s.pending_count));
    put(document, 'persistence_error', s.last_error || 'none');
    list($('#unready'), j.ready.reasons, 'nothing: ready');
    list($('#degraded'), j.ready.degraded, 'nothing');
    list($('#paused'), j.ready.paused || [], 'nothing');
  }
  function draw() {
    var svg = $('#lag-chart'), left = 60, top = 10, width = 520, height = 140, max = 1;
    var t0 = samples[0].t, span = Math.max(samples[samples.length - 1].t - t0, 1);
    samples.forEach(function (s) { s.lags.forEach(function (l) { max = Math.max(max, l[1]); }); });
    svg.textContent = '';
    function add(tag, attrs, text) {
      var e = document.createElementNS(svg.namespaceURI, tag);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    }
    add('polyline', {points: left + ',' + top + ' ' + left + ',' + (top + height) + ' ' + (left + width) + ',' +
        (top + height), fill: 'none', stroke: '#a0aec0'});
    add('text', {x: 4, y: top + 10}, String(max));
    add('text', {x: 4, y: top + height}, '0');
    add('text', {x: left, y: top + height + 20}, (span / 1000).toFixed(0) + ' s, ' + samples.length + ' samples');
    samples[samples.length - 1].lags.forEach(function (l, i) {
      var points = [];
      samples.forEach(function (s) {
        var v = s.lags.find(function (x) { return x[0] === l[0]; });
        if (!v) return;
        points.push((left + width * (s.t - t0) / span).toFixed(1) + ',' + (top + height - height * v[1] / max).toFixed(1));
      });
      var color = colors[i % colors.length];
      add('polyline', {points: points.join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'data-projection': l[0]});
      add('text', {x: left + width + 12, y: top + 12 + 16 * i, fill: color}, l[0] + ' ' + l[1]);
    });
  }
  function update(j) {
    polls += 1;
    header(j);
    projections(j);
    persistence(j);
    samples.push({t: Date.now(), lags: j.projections.map(function (p) { return [p.name, p.lag_events || 0]; })});
    if (samples.length > kSamples) samples.shift();
    draw();
    $('#live').textContent = 'Live: polled /status ' + polls + ' times, last at ' + new Date().toLocaleTimeString() + '.';
    document.body.setAttribute('data-polls', String(polls));
  }
  function poll() {
    fetch('/status', {cache: 'no-store'})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status)); })
        .then(update)
        .catch(function (e) { $('#live').textContent = 'Polling /status failed (' + e.message + '); figures may be stale.'; });
  }
  poll();
  setInterval(poll, kPollMs);
})();
)js";

}  // namespace projd::http
