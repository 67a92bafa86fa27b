// The wall in a browser: one server-sent event stream from `launchdeck serve`, drawn with
// textContent only (people's text is data, never markup). Read-only: nothing here sends anything
// but the GET of the stream. A page whose data has stopped coming says so, loudly: no event for
// longer than stale_after, the newest reading older than that, or the connection gone.
"use strict";

(function () {
  const STATUSES = ["ok", "warn", "crit", "unknown"];
  const REASONS_SHOWN = 3;
  const BACKOFF_FIRST = 1000;
  const BACKOFF_MAX = 30000;
  const DEFAULT_STALE = 15;

  const $ = (id) => document.getElementById(id);
  const page = {
    wall: document.querySelector(".wall"), stale: $("stale"), staleTitle: $("stale-title"),
    staleDetail: $("stale-detail"), deck: $("deck"), environment: $("environment"), clock: $("clock"),
    updated: $("updated"), verdict: $("verdict"), word: $("verdict-word"), reasons: $("reasons"),
    figures: $("figures"), connection: $("connection"),
  };

  // The cookie set with this page carries the token from now on: take it out of the address bar,
  // so a photo of the TV or a shared screen does not show it.
  if (new URLSearchParams(location.search).has("token")) {
    history.replaceState(null, "", location.pathname);
  }

  const state = {
    source: null,
    status: "connecting", // connecting | live | lost | closed
    attempts: 0,
    retryAt: 0,
    retryTimer: null,
    lastMessageAt: 0, // this browser's clock
    dataAgeAtMessage: null, // s, by the server's own clock: sent_at - newest_data_at
    staleAfter: DEFAULT_STALE,
    loadedAt: Date.now(),
    staleSince: null,
    hasSummary: false,
    refusal: "", // why the server refused us, when it said (401, 503)
  };

  function statusClass(status) {
    return STATUSES.includes(status) ? status : "unknown";
  }

  function hhmmss(ms) {
    const d = new Date(ms);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
  }

  function ago(seconds) {
    if (seconds < 1) return "just now";
    if (seconds < 90) return `${Math.floor(seconds)} s ago`;
    if (seconds < 5400) return `${Math.floor(seconds / 60)} min ago`;
    return `${Math.floor(seconds / 3600)} h ago`;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ------------------------------------------------------------------ drawing a summary
  function draw(summary) {
    page.deck.textContent = summary.deck;
    page.environment.textContent = summary.environment;
    page.environment.classList.toggle("production", Boolean(summary.production));
    const status = statusClass(summary.status);
    page.verdict.className = `verdict status-${status}`;
    page.word.textContent = summary.verdict;
    document.title = `${String(summary.verdict).toUpperCase()} · ${summary.deck}`;
    drawReasons(status === "ok" ? [] : summary.reasons || []);
    drawFigures(summary.figures || []);
  }

  function drawReasons(reasons) {
    const items = reasons.slice(0, REASONS_SHOWN).map((reason) => el("li", "", reason));
    if (reasons.length > REASONS_SHOWN) {
      items.push(el("li", "more", `+${reasons.length - REASONS_SHOWN} more`));
    }
    page.reasons.replaceChildren(...items);
  }

  function drawFigures(figures) {
    page.figures.replaceChildren(...figures.map((figure) => {
      const box = el("div", `figure status-${statusClass(figure.status)}`);
      box.dataset.key = figure.key;
      box.append(el("div", "figure-label", figure.label), value(String(figure.value)),
                 el("div", "figure-detail", figure.detail || ""));
      if (Array.isArray(figure.trend) && figure.trend.length > 1) {
        box.append(trend(figure.trend, figure.scale, figure.status));
      }
      return box;
    }));
  }

  // "232 ms" and "12/20 pre-launch": the number large, the words after it smaller, so the number
  // stays whole on a TV instead of being cut off with an ellipsis
  function value(text) {
    const box = el("div", "figure-value");
    const space = text.indexOf(" ");
    box.append(el("span", "figure-number", space < 0 ? text : text.slice(0, space)));
    if (space >= 0) box.append(el("span", "figure-unit", text.slice(space)));
    return box;
  }

  // A sparkline drawn against the figure's crit threshold (not its own maximum): 0.1 % and 3 %
  // must not both draw a full bar.
  function trend(points, scale, status) {
    const canvas = el("canvas", "figure-trend");
    canvas.width = 400;
    canvas.height = 60;
    const top = Math.max(scale || 0, ...points) || 1;
    const ctx = canvas.getContext("2d");
    const colour = getComputedStyle(document.documentElement)
      .getPropertyValue(`--${statusClass(status)}`).trim() || "#9aa6b5";
    ctx.strokeStyle = colour;
    ctx.lineWidth = 4;
    ctx.beginPath();
    points.forEach((value, i) => {
      const x = (i / (points.length - 1)) * canvas.width;
      const y = canvas.height - 3 - (Math.min(value, top) / top) * (canvas.height - 6);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
    if (scale) { // the crit line
      ctx.strokeStyle = "rgba(217,45,32,0.6)";
      ctx.lineWidth = 2;
      ctx.setLineDash([8, 6]);
      const y = canvas.height - 3 - (scale / top) * (canvas.height - 6);
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(canvas.width, y); ctx.stroke();
    }
    return canvas;
  }

  // ------------------------------------------------------------------ the stream
  function onWall(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      page.connection.textContent = "a message could not be read; waiting for the next one";
      return;
    }
    state.lastMessageAt = Date.now();
    state.attempts = 0;
    state.refusal = "";
    state.status = "live";
    const summary = message.summary;
    if (summary) {
      state.hasSummary = true;
      state.staleAfter = Number(summary.stale_after_seconds) || DEFAULT_STALE;
      const sent = Date.parse(message.sent_at);
      const newest = summary.newest_data_at ? Date.parse(summary.newest_data_at) : NaN;
      state.dataAgeAtMessage = Number.isFinite(sent) && Number.isFinite(newest) ? Math.max(0, (sent - newest) / 1000) : null;
      draw(summary);
    }
    tick();
  }

  function connect() {
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    if (state.source) state.source.close();
    state.status = state.lastMessageAt ? state.status : "connecting";
    const source = new EventSource("events");
    state.source = source;
    source.addEventListener("wall", onWall);
    source.addEventListener("closing", () => lose("closed"));
    source.onerror = () => lose("lost");
  }

  // Our own reconnect, with backoff: 1 s, 2 s, 4 s ... 30 s, with jitter (ten TVs must not
  // return in step after a restart).
  function lose(why) {
    if (state.source) state.source.close();
    state.source = null;
    // the server said it was stopping: failed reconnects after that still mean "stopped", not a bad link
    state.status = state.status === "closed" && why === "lost" ? "closed" : why;
    if (state.retryTimer) return;
    const delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** state.attempts) * (0.8 + Math.random() * 0.4);
    state.attempts += 1;
    state.retryAt = Date.now() + delay;
    state.retryTimer = setTimeout(connect, delay);
    if (why === "lost") askWhy(); // a failed (re)connect, also after the server said it was stopping
    tick();
  }

  // An event stream cannot say why it failed; a HEAD of it can: 401 the token is no longer
  // accepted (the server restarted with a new one), 503 too many viewers.
  function askWhy() {
    fetch("events", { method: "HEAD", cache: "no-store", credentials: "same-origin" }).then((response) => {
      state.refusal = response.status === 401 ? "the token is no longer accepted: open the URL launchdeck serve printed"
        : response.status === 503 ? "too many viewers (--max-viewers)" : "";
      tick();
    }, () => { state.refusal = ""; });
  }

  // ------------------------------------------------------------------ once a second: clock, ages, staleness
  function tick() {
    const now = Date.now();
    page.clock.textContent = hhmmss(now);
    const silence = state.lastMessageAt ? (now - state.lastMessageAt) / 1000 : (now - state.loadedAt) / 1000;
    const dataAge = state.dataAgeAtMessage === null ? null : state.dataAgeAtMessage + (state.lastMessageAt ? (now - state.lastMessageAt) / 1000 : 0);
    page.updated.textContent = dataAge === null ? "no reading yet" : `updated ${ago(dataAge)}`;
    page.updated.classList.toggle("late", dataAge !== null && dataAge > state.staleAfter);

    if (state.status === "live" && silence > state.staleAfter) {
      lose("lost"); // the server or the link went quiet without closing: try again
      return;
    }
    let why = "";
    if (state.status === "closed") why = "the server stopped";
    else if (state.status === "lost" || (state.status === "connecting" && silence > state.staleAfter)) {
      why = state.lastMessageAt ? `no data from the server for ${Math.floor(silence)} s` : "cannot reach the server";
    } else if (dataAge !== null && dataAge > state.staleAfter) {
      why = `no new reading for ${Math.floor(dataAge)} s`;
    } else if (state.hasSummary && dataAge === null && silence < state.staleAfter && now - state.loadedAt > state.staleAfter * 1000) {
      why = "no reading yet";
    }
    if (why && state.refusal) why = state.refusal;
    if (why && state.retryTimer) {
      why += ` · reconnecting in ${Math.max(0, Math.ceil((state.retryAt - now) / 1000))} s`;
    }
    showStale(why, now, dataAge);
    page.connection.textContent = state.status === "live" ? "live" : state.status;
  }

  function showStale(why, now, dataAge) {
    if (!why) {
      state.staleSince = null;
      page.stale.hidden = true;
      page.wall.classList.remove("is-stale");
      return;
    }
    if (state.staleSince === null) {
      // since the newest data we have (by this browser's clock), else since the page opened
      state.staleSince = dataAge !== null ? now - dataAge * 1000 : (state.lastMessageAt || state.loadedAt);
    }
    page.staleTitle.textContent = `DATA STALE since ${hhmmss(state.staleSince)}`;
    page.staleDetail.textContent = why;
    page.stale.hidden = false;
    page.wall.classList.add("is-stale");
  }

  connect();
  setInterval(tick, 500);
  tick();
})();
