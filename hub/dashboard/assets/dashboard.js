// The beamhub dashboard's script: reads the hub's snapshot stream (/beamhub/ui/events, one
// server-sent event per interval) and draws it. Plain ES2020 for any current browser, no build
// step, no library. Everything from the hub is written with textContent, never as HTML: service
// names, identities and addresses come from peers.
/* global document, sessionStorage, location, history */

/** `?interval=<ms>` on the page's URL sets the refresh interval (250–60000; default the hub's). */
const EVENTS = `/beamhub/ui/events${intervalQuery()}`;
/** Points kept per sparkline: a minute at the default 1 s interval. */
const HISTORY = 60;
const SVG = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "beamhub.dashboard.token";

/** Per service name: recent calls/s and p99 latency, oldest first. */
const series = new Map();
/** Per service name: its card's elements, made once and updated in place. */
const cards = new Map();
let token = takeTokenFromFragment() ?? sessionStorage.getItem(TOKEN_KEY);
let retryTimer;
let snapshots = 0;

const $ = (selector) => document.querySelector(selector);
const metric = (name) => document.querySelector(`[data-metric="${name}"]`);

function intervalQuery() {
  const interval = new URLSearchParams(location.search).get("interval");
  return interval === null ? "" : `?interval=${encodeURIComponent(interval)}`;
}

/** A token may come in the URL fragment (never sent to the server): kept for this tab only. */
function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match === null) return null;
  const value = decodeURIComponent(match[1]);
  sessionStorage.setItem(TOKEN_KEY, value);
  history.replaceState(null, "", location.pathname + location.search);
  return value;
}

function setStatus(state, text) {
  const status = $("#status");
  status.dataset.state = state;
  status.textContent = text;
}

function retry(reason) {
  setStatus("error", `${reason}; retrying…`);
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, 3000);
}

/** Asks for a token when the hub will not show its figures to this viewer as it is. */
function askForToken(reason) {
  setStatus("error", "not allowed");
  $("#login-reason").textContent = reason;
  $("#login").hidden = false;
}

async function connect() {
  setStatus("connecting", "connecting…");
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  let response;
  try {
    response = await fetch(EVENTS, { headers, cache: "no-store" });
  } catch (error) {
    return retry(`cannot reach the hub (${error.message})`);
  }
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    return askForToken(body.message ?? `the hub answered ${response.status}`);
  }
  if (!response.ok || response.body === null) return retry(`the hub answered ${response.status}`);
  $("#login").hidden = true;
  setStatus("live", "live");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data: "))
          .map((line) => line.slice(6))
          .join("\n");
        if (data !== "") render(JSON.parse(data));
      }
    }
  } catch (error) {
    return retry(`the stream broke (${error.message})`);
  }
  retry("the hub ended the stream");
}

// ---- formatting -------------------------------------------------------------------------

function count(value) {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return String(Math.round(value));
}

function rate(value) {
  return value > 0 && value < 10 ? value.toFixed(1) : count(value);
}

function bytes(value) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function ms(value) {
  if (value === undefined || value === null) return "–";
  if (value >= 1000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 10) return `${Math.round(value)} ms`;
  if (value >= 1) return `${value.toFixed(1)} ms`;
  return `${Math.round(value * 1000)} µs`;
}

function since(at, now) {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- drawing ----------------------------------------------------------------------------

function render(snapshot) {
  const now = snapshot.at;
  $("#uptime").textContent = `up ${since(snapshot.startedAt, now)}`;
  let callsPerSecond = 0;
  let failedPerSecond = 0;
  let calls = 0;
  for (const service of snapshot.services) {
    callsPerSecond += service.callsPerSecond;
    failedPerSecond += service.failedPerSecond;
    calls += service.calls;
    remember(service);
  }
  const transports = Object.entries(snapshot.sessionsByTransport).filter(([, n]) => n > 0);
  metric("calls-per-second").textContent = rate(callsPerSecond);
  metric("failed-per-second").textContent = rate(failedPerSecond);
  metric("failed-per-second").classList.toggle("bad", failedPerSecond > 0);
  metric("in-flight").textContent = count(snapshot.callsInFlight);
  metric("sessions").textContent = count(transports.reduce((sum, [, n]) => sum + n, 0));
  metric("sessions-by-transport").textContent =
    transports.length === 0 ? "sessions" : transports.map(([name, n]) => `${n} ${name}`).join(" · ");
  metric("instances").textContent = count(snapshot.instanceCount);
  metric("streams").textContent = count(snapshot.streams);
  metric("channels").textContent = count(snapshot.channels);
  metric("fds").textContent = `${count(snapshot.traffic.fdsIn)} / ${count(snapshot.traffic.fdsOut)}`;
  metric("bytes-in-per-second").textContent = bytes(snapshot.bytesInPerSecond);
  metric("bytes-out-per-second").textContent = bytes(snapshot.bytesOutPerSecond);
  metric("total-calls").textContent = count(calls);
  drawCards(
    $("#services"),
    snapshot.services.filter((service) => !service.gateway),
    "No service registered.",
  );
  drawCards(
    $("#gateway"),
    snapshot.services.filter((service) => service.gateway),
    "No TCP endpoint exposed.",
  );
  drawChannels(snapshot.pubsub);
  drawInstances(snapshot);
  drawSessions(snapshot, now);
  snapshots++;
  // For tests and scripts: how many snapshots this page has drawn.
  document.body.dataset.snapshots = String(snapshots);
}

function remember(service) {
  let points = series.get(service.name);
  if (points === undefined) {
    points = { rate: [], latency: [], median: [] };
    series.set(service.name, points);
  }
  points.rate.push(service.callsPerSecond);
  points.latency.push(service.p99Ms ?? null);
  points.median.push(service.p50Ms ?? null);
  if (points.rate.length > HISTORY) {
    points.rate.shift();
    points.latency.shift();
    points.median.shift();
  }
}

function drawCards(container, services, empty) {
  const names = new Set(services.map((service) => service.name));
  for (const [name, card] of cards) {
    if (card.root.parentNode === container && !names.has(name)) {
      card.root.remove();
      cards.delete(name);
    }
  }
  container.querySelector(":scope > p.muted")?.remove();
  if (services.length === 0) {
    container.append(element("p", "muted", empty));
    return;
  }
  for (const service of services) {
    let card = cards.get(service.name);
    if (card === undefined || card.root.parentNode !== container) {
      card?.root.remove();
      card = makeCard(service);
      cards.set(service.name, card);
    }
    container.append(card.root); // keeps the hub's order (sorted by name)
    updateCard(card, service);
  }
}

function makeCard(service) {
  const root = element("article", "card");
  root.dataset.service = service.name;
  const title = element("h3", "", service.name);
  const badge = element("span", "badge");
  title.append(badge);
  const figures = element("div", "figures");
  const field = (label, name) => {
    const box = element("div");
    const value = element("b", "", "–");
    value.dataset.field = name;
    box.append(value, element("span", "", label));
    figures.append(box);
    return value;
  };
  const gateway = service.gateway;
  const fields = {
    rate: field(gateway ? "conn/s" : "calls/s", "calls-per-second"),
    failed: field("failed/s", "failed-per-second"),
    p50: field("p50", "p50"),
    p99: field("p99", "p99"),
    calls: field(gateway ? "opened" : "calls", "calls"),
    failedTotal: field("failed", "failed"),
    inFlight: field("in flight", "in-flight"),
    instances: field("instances", "instances"),
  };
  const spark = document.createElementNS(SVG, "svg");
  spark.setAttribute("class", "spark");
  spark.setAttribute("viewBox", `0 0 ${HISTORY - 1} 100`);
  spark.setAttribute("preserveAspectRatio", "none");
  spark.setAttribute("role", "img");
  const rateLine = document.createElementNS(SVG, "polyline");
  rateLine.setAttribute("class", "rate");
  const latencyLine = document.createElementNS(SVG, "polyline");
  latencyLine.setAttribute("class", "latency");
  spark.append(rateLine, latencyLine);
  const legend = element("div", "legend");
  const rateLegend = element("span");
  const latencyLegend = element("span");
  legend.append(rateLegend, latencyLegend);
  root.append(title, figures, spark, legend);
  return { root, badge, fields, spark, rateLine, latencyLine, rateLegend, latencyLegend };
}

function updateCard(card, service) {
  const { fields } = card;
  card.badge.textContent = service.gateway ? "tcp gateway" : `${service.instances} inst.`;
  fields.rate.textContent = rate(service.callsPerSecond);
  fields.failed.textContent = rate(service.failedPerSecond);
  fields.failed.classList.toggle("bad", service.failedPerSecond > 0);
  // Latency is of the calls of the last interval; when none came, the last known value stays
  // (greyed) rather than a dash that hides what the service did a moment ago.
  const points = series.get(service.name);
  showLatency(fields.p50, service.p50Ms, points.median);
  showLatency(fields.p99, service.p99Ms, points.latency);
  fields.calls.textContent = count(service.calls);
  fields.failedTotal.textContent = count(service.failed);
  fields.failedTotal.classList.toggle("bad", service.failed > 0);
  fields.inFlight.textContent = count(service.inFlight);
  fields.instances.textContent = count(service.instances);
  const maxRate = Math.max(1, ...points.rate);
  const latencies = points.latency.filter((value) => value !== null);
  const maxLatency = Math.max(0.001, ...latencies);
  card.rateLine.setAttribute("points", polyline(points.rate, maxRate));
  card.latencyLine.setAttribute("points", polyline(points.latency, maxLatency));
  card.spark.setAttribute("aria-label", `calls per second and p99 latency of ${service.name}`);
  card.rateLegend.textContent = `— ${service.gateway ? "conn" : "calls"}/s, max ${rate(maxRate)}`;
  card.latencyLegend.textContent = latencies.length === 0 ? "" : `- - p99, max ${ms(maxLatency)}`;
}

function showLatency(field, value, history) {
  const last = value ?? history.findLast((point) => point !== null);
  field.textContent = ms(last);
  field.classList.toggle("muted", value === undefined && last !== undefined);
}

/** SVG points of `values` (nulls skipped), right-aligned, scaled so `max` touches the top. */
function polyline(values, max) {
  const offset = HISTORY - values.length;
  const points = [];
  values.forEach((value, index) => {
    if (value === null) return;
    const y = 98 - (Math.min(value, max) / max) * 94;
    points.push(`${offset + index},${y.toFixed(1)}`);
  });
  return points.join(" ");
}

function fillTable(table, rows) {
  const body = table.querySelector("tbody");
  const fresh = document.createElement("tbody");
  for (const cells of rows) {
    const row = document.createElement("tr");
    for (const [text, numeric] of cells) row.append(element("td", numeric ? "num" : "", text));
    fresh.append(row);
  }
  body.replaceWith(fresh);
}

/** The pub/sub panel: one row per channel, busiest first, each cell named for tests and scripts. */
function drawChannels(pubsub) {
  // A hub of an older version sends no pub/sub panel.
  const panel = pubsub ?? { channels: [], channelCount: 0, messagesPerSecond: 0, laggedPerSecond: 0 };
  metric("messages-per-second").textContent = rate(panel.messagesPerSecond);
  metric("lagged-per-second").textContent = rate(panel.laggedPerSecond);
  metric("lagged-per-second").classList.toggle("bad", panel.laggedPerSecond > 0);
  const shown = panel.channels.length;
  metric("channel-count").textContent =
    shown < panel.channelCount ? `(${shown} of ${panel.channelCount})` : `(${shown})`;
  const fresh = document.createElement("tbody");
  for (const channel of panel.channels) {
    const row = document.createElement("tr");
    row.dataset.channel = channel.name;
    const cell = (field, text, numeric, bad) => {
      const td = element("td", numeric ? "num" : "", text);
      td.dataset.field = field;
      if (bad) td.classList.add("bad");
      row.append(td);
    };
    cell("name", channel.name, false, false);
    cell("subscribers", count(channel.subscribers), true, false);
    cell("messages-per-second", rate(channel.messagesPerSecond), true, false);
    cell("lagged-per-second", rate(channel.laggedPerSecond), true, channel.laggedPerSecond > 0);
    cell("lagged", count(channel.lagged), true, channel.lagged > 0);
    cell("history", count(channel.history), true, false);
    cell("history-bytes", bytes(channel.historyBytes), true, false);
    cell("seq", count(channel.seq), true, false);
    fresh.append(row);
  }
  if (shown === 0) {
    const row = document.createElement("tr");
    const td = element("td", "muted", "No pub/sub channel.");
    td.colSpan = 8;
    row.append(td);
    fresh.append(row);
  }
  $("#channels tbody").replaceWith(fresh);
}

function drawInstances(snapshot) {
  const shown = snapshot.instances.length;
  metric("instance-count").textContent =
    shown < snapshot.instanceCount ? `(${shown} of ${snapshot.instanceCount})` : `(${shown})`;
  fillTable(
    $("#instances"),
    snapshot.instances.map((instance) => [
      [instance.name],
      [instance.id],
      [instance.sessionId],
      [instance.transport],
      [instance.identity ?? "anonymous"],
      [count(instance.inFlight), true],
      [count(instance.calls), true],
      [count(instance.errors + instance.timeouts + instance.gone), true],
      [ms(instance.p99Ms), true],
    ]),
  );
}

function drawSessions(snapshot, now) {
  if (snapshot.sessions === null) {
    metric("session-count").textContent = "(not shown to you: the access rules keep hub.sessions)";
    fillTable($("#sessions"), []);
    return;
  }
  const shown = snapshot.sessions.length;
  metric("session-count").textContent =
    shown < snapshot.sessionCount ? `(${shown} of ${snapshot.sessionCount})` : `(${shown})`;
  fillTable(
    $("#sessions"),
    snapshot.sessions.map((session) => {
      const traffic = session.traffic;
      const identity = session.identity;
      const who = [
        identity === undefined ? "anonymous" : `${identity.id} (${identity.via})`,
        identity?.pid === undefined ? "" : `pid ${identity.pid}`,
        session.remoteAddress ?? "",
      ]
        .filter((part) => part !== "")
        .join(" · ");
      return [
        [session.id],
        [session.transport],
        [who],
        [since(session.connectedAt, now)],
        [count(session.services), true],
        [count(session.callsInFlight + session.servingInFlight), true],
        [traffic === undefined ? "–" : `${bytes(traffic.bytesIn)} / ${bytes(traffic.bytesOut)}`, true],
        [traffic === undefined ? "–" : count(traffic.streams), true],
        [traffic === undefined ? "–" : `${count(traffic.fdsIn)} / ${count(traffic.fdsOut)}`, true],
      ];
    }),
  );
}

$("#login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("#token").value.trim() || null;
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
  clearTimeout(retryTimer);
  void connect();
});

void connect();
