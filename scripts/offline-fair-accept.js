'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a Serverless plugin is CommonJS */

/**
 * A local Serverless plugin for `serverless offline` (the dev stage; nothing in a cloud stage
 * changes, where API Gateway takes the connections): while a burst's new connections are being
 * accepted, the emulator's HTTP server takes up no request at all, for up to 30 ms, so its turns
 * are short and every connection is in within a few milliseconds; then first requests of new
 * connections first, up to 16 per turn.
 *
 * Why: Node 20's libuv accepts one connection per event-loop turn (libuv pull request 3696,
 * "unix: don't accept() connections in a loop"), and each turn otherwise serves every request
 * that is ready, each about 0.5-1 ms of the emulator's CPU. When a burst opens 100 connections
 * at once, the first few keep the loop busy with their next requests, a turn lasts 5-30 ms, and
 * the last connections of the burst waited in the kernel's accept queue for 0.4-1.9 s, where no
 * request of theirs had reached the server yet (docs/performance-tail.md). A turn that takes up
 * nothing is an accept and the reading of whatever arrived, so a burst's connections are all
 * accepted within about 40 ms of its start. While connections still come after 30 ms, one request
 * per turn, so requests already waiting are never held longer; once a turn has accepted none,
 * up to 16 per turn, whose writes to Redis go out together (one per turn throughout cost the
 * ingest path about twice the CPU). A new connection's first request goes to the front, since it
 * has already waited to be accepted; requests are otherwise served in the order they arrived.
 *
 * The server reads, parses and buffers each request as before; only the `request` event, where
 * the emulator starts its work, is deferred (by `setImmediate`, to the turn's check phase).
 * `OFFLINE_FAIR_ACCEPT=false` turns it off.
 */
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { setImmediate } = require('node:timers');

/**
 * Requests taken up in one turn once no connection was accepted in the turn before (none is
 * waiting, as far as the server can tell): taken up together, their writes to Redis go out in
 * fewer, larger packets, as they did before this plugin.
 */
const BATCH = 16;

/**
 * How long the server may take up nothing while connections keep being accepted, one per turn:
 * those turns are short (an accept, and the reading of whatever arrived), so a burst's 100 new
 * connections are all in within a few milliseconds. Then one request per turn while they still
 * come, so requests already waiting are never held longer than this.
 */
const HOLD_MS = 30;

/** Installs the deferral on every HTTP server of this process; returns a function that removes it. */
function deferRequests() {
  const emit = http.Server.prototype.emit;
  let turn = 0;
  let acceptedAt = Number.NEGATIVE_INFINITY;
  /** When the current hold began (`undefined`: none), and whether its time is spent. */
  let holdingSince;
  let holdSpent = false;
  /** Requests waiting to be taken up: first requests of new connections, then the others, each in arrival order. */
  const fresh = [];
  const queue = [];
  const seen = new WeakSet();
  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(takeUp);
  };
  function takeUp() {
    scheduled = false;
    turn++;
    // libuv accepts one connection per turn: one accepted in the turn just gone means more may wait.
    const accepting = acceptedAt === turn - 1;
    let count = BATCH;
    if (!accepting) {
      holdingSince = undefined;
      holdSpent = false;
    } else if (!holdSpent) {
      holdingSince ??= performance.now();
      if (performance.now() - holdingSince < HOLD_MS) count = 0;
      else holdSpent = true;
    }
    if (accepting && holdSpent) count = 1;
    try {
      for (let taken = 0; taken < count; taken++) {
        const next = fresh.shift() ?? queue.shift();
        if (!next) break;
        emit.call(next[0], 'request', next[1], next[2]);
      }
    } finally {
      // A listener that throws fails as it would have without this plugin; the rest still get their turn.
      if (fresh.length > 0 || queue.length > 0) schedule();
    }
  }

  http.Server.prototype.emit = function (name, ...args) {
    if (name === 'connection') acceptedAt = turn;
    if (name !== 'request') return emit.call(this, name, ...args);
    const [request, response] = args;
    const socket = request.socket;
    if (socket && !seen.has(socket)) {
      seen.add(socket);
      fresh.push([this, request, response]);
    } else {
      queue.push([this, request, response]);
    }
    schedule();
    return true;
  };
  return () => {
    http.Server.prototype.emit = emit;
  };
}

class OfflineFairAccept {
  constructor(serverless) {
    const offline = serverless.service.custom?.['serverless-offline'];
    this.hooks = {};
    if (!offline?.useInProcess || process.env.OFFLINE_FAIR_ACCEPT === 'false') return;
    // Before the emulator creates its servers; only `serverless offline` itself gets here.
    this.hooks['before:offline:start:init'] = () => {
      this.restore = deferRequests();
    };
    this.hooks['offline:start:end'] = () => this.restore?.();
  }
}

module.exports = OfflineFairAccept;
module.exports.deferRequests = deferRequests;
