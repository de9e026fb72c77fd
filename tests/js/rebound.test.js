// Unit tests of the return after a dip: when the browser is made to probe the link again, what a
// probe that succeeds or fails leads to, and the back-off that keeps a link still weak from being
// probed over and over; and the answer with a bitrate ceiling the probe is made with.
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { PROBE_CEILING_KBPS, withMaxBitrate } from '../../patient_page/static/js/publisher.js';
import {
  BACKOFF_MS,
  CLEAN_READINGS,
  initialRebound,
  PROBE_MS,
  reboundStep,
} from '../../patient_page/static/js/rebound.js';

const READ_MS = 500;
/** A good link: a high estimate, a short round trip, no loss. */
const good = (kbps) => ({ kbps, rttMs: 40, loss: 0 });
/** The link during a dip: the estimate at the bottom, a queue, losses. */
const dipping = (kbps = 30) => ({ kbps, rttMs: 320, loss: 0.3 });
/** The link back: the queue drained, no loss, the estimate still low. */
const back = (kbps) => ({ kbps, rttMs: 45, loss: 0 });

/**
 * Feed `readings` one every READ_MS from `start`; the final state, each action with its time,
 * and the time after the last reading.
 */
function feed(readings, state = initialRebound(), start = 0) {
  const actions = [];
  let now = start;
  for (const reading of readings) {
    const result = reboundStep(state, reading, now);
    state = result.state;
    if (result.action) {
      actions.push({ ...result.action, at: now });
    }
    now += READ_MS;
  }
  return { state, actions, now };
}

/** The state once a good link fell into a dip. */
function dipped() {
  const { state, now } = feed([good(2500), good(2500), dipping(200), dipping(40), dipping(30)]);
  assert.equal(state.phase, 'dipped');
  return { state, now };
}

const repeat = (reading, times) => Array.from({ length: times }, () => reading);

describe('a dip and the link coming back', () => {
  test('a good link that stays good is never capped', () => {
    const { state, actions } = feed(repeat(good(2500), 40));
    assert.equal(state.phase, 'steady');
    assert.deepEqual(actions, []);
  });

  test('an estimate that starts low and grows is not a dip', () => {
    const { state, actions } = feed([100, 150, 300, 600, 1200, 2400].map(good));
    assert.equal(state.phase, 'steady');
    assert.deepEqual(actions, []);
  });

  test('an estimate settling lower on a clean link is not a dip', () => {
    // The first probes overshoot; the estimate settles at a quarter of its peak without loss.
    const { state, actions } = feed([good(5000), good(3000), good(900), good(600), good(600)]);
    assert.equal(state.phase, 'steady');
    assert.deepEqual(actions, []);
  });

  test('a fall with losses and a queue is a dip, and nothing is done while it lasts', () => {
    const { state } = dipped();
    const { state: after, actions } = feed(repeat(dipping(), 40), state);
    assert.equal(after.phase, 'dipped');
    assert.deepEqual(actions, []);
  });

  test('the link clean again: a probe, once', () => {
    const { state, now } = dipped();
    const { actions, state: after } = feed(repeat(back(60), CLEAN_READINGS + 2), state, now);
    assert.deepEqual(actions, [{ kind: 'probe', kbps: 60, at: now + (CLEAN_READINGS - 1) * READ_MS }]);
    assert.equal(after.phase, 'probing');
  });

  test('one clean reading is not enough', () => {
    const { state, now } = dipped();
    const { actions } = feed([back(60), dipping(), back(60), dipping()], state, now);
    assert.deepEqual(actions, []);
  });

  test('a queue still there (the round trip high) is not clean', () => {
    const { state, now } = dipped();
    const { actions } = feed(repeat({ kbps: 60, rttMs: 200, loss: 0 }, 10), state, now);
    assert.deepEqual(actions, []);
  });

  test('clean readings at the dip\'s bottom (the estimate flat) are no reason to probe', () => {
    const { state, now } = dipped();
    const { actions } = feed(repeat(back(30), 40), state, now);
    assert.deepEqual(actions, []);
  });

  test('an estimate still falling is not clean', () => {
    const { state, now } = dipped();
    const { actions } = feed([back(60), back(50), back(40), back(30)], state, now);
    assert.deepEqual(actions, []);
  });
});

describe('the probe and what follows', () => {
  /** The state right after a probe was asked for. */
  function lifted() {
    const { state, now } = dipped();
    const result = feed(repeat(back(60), CLEAN_READINGS), state, now);
    assert.equal(result.state.phase, 'probing');
    return result;
  }

  test('a probe that finds the link back says so with the new estimate', () => {
    const { state, now } = lifted();
    const { state: after, actions } = feed([back(70), good(1800)], state, now);
    assert.deepEqual(actions.map((action) => action.kind), ['recovered']);
    assert.equal(actions[0].kbps, 1800);
    assert.equal(after.phase, 'steady');
  });

  test('a probe that finds only part of it tries again soon, without waiting', () => {
    const { state, now } = lifted();
    const { state: after, actions } = feed([good(300), ...repeat(back(300), CLEAN_READINGS)], state, now);
    assert.deepEqual(
      actions.map((action) => action.kind),
      ['recovered', 'probe'],
    );
    assert.equal(after.phase, 'probing');
  });

  /** Readings until the probe fails, from `state`; the failure's action and what follows. */
  function untilFailed(state, now, kbps) {
    const result = feed(repeat(back(kbps), Math.ceil(PROBE_MS / READ_MS)), state, now);
    const failed = result.actions.find((action) => action.kind === 'failed');
    assert.ok(failed, 'the probe failed');
    return { ...result, failed };
  }

  test('a probe that fails: the next one waits longer and longer, and for the estimate to grow', () => {
    let { state, now } = lifted();
    let kbps = 60;
    const waits = [];
    for (let attempt = 0; attempt < BACKOFF_MS.length + 1; attempt += 1) {
      const result = untilFailed(state, now, kbps);
      waits.push(result.failed.retryInMs);
      // A flat estimate: no probe, however long and clean.
      const flat = feed(repeat(back(kbps), 130), result.state, result.now);
      assert.deepEqual(flat.actions, [], `attempt ${attempt}: a flat estimate waits`);
      // Grown by itself: a probe again, once the wait is over.
      kbps = Math.round(kbps * 1.3);
      const grown = feed(repeat(back(kbps), 2), flat.state, flat.now);
      assert.deepEqual(
        grown.actions.map((action) => action.kind),
        ['probe'],
      );
      ({ state, now } = grown);
    }
    assert.deepEqual(waits, [...BACKOFF_MS, BACKOFF_MS[BACKOFF_MS.length - 1]]);
  });

  test('a grown estimate still waits for the end of the wait after a failure', () => {
    const { state, now } = lifted();
    const result = untilFailed(state, now, 60);
    const before = Math.floor((result.state.notBefore - result.now) / READ_MS);
    const early = feed(repeat(back(100), before), result.state, result.now);
    assert.deepEqual(early.actions, []);
    const after = feed(repeat(back(100), 2), early.state, early.now);
    assert.deepEqual(
      after.actions.map((action) => action.kind),
      ['probe'],
    );
  });

  test('a success after failures starts the back-off over', () => {
    let { state, now } = lifted();
    ({ state, now } = untilFailed(state, now, 60));
    assert.equal(state.failures, 1);
    ({ state, now } = feed(repeat(back(80), 2), state, now));
    assert.equal(state.phase, 'probing');
    ({ state } = feed([good(400)], state, now));
    assert.equal(state.failures, 0);
  });

  test('an estimate back up by itself ends the dip without any probe', () => {
    const { state, now } = dipped();
    const { state: after, actions } = feed([dipping(), good(1500)], state, now);
    assert.equal(after.phase, 'steady');
    assert.deepEqual(actions, []);
  });
});

describe('the answer the probe is made with', () => {
  const ANSWER = [
    'v=0',
    'm=video 9 UDP/TLS/RTP/SAVPF 97 98',
    'c=IN IP4 10.0.0.1',
    'a=rtpmap:97 VP8/90000',
    'a=rtcp-fb:97 transport-cc',
    'a=fmtp:97 x-google-start-bitrate=600',
    'a=rtpmap:98 rtx/90000',
    'a=fmtp:98 apt=97',
    '',
  ].join('\r\n');

  test('the ceiling goes on the video section, after its connection line', () => {
    const probed = withMaxBitrate(ANSWER, PROBE_CEILING_KBPS);
    assert.equal(
      probed,
      ANSWER.replace('c=IN IP4 10.0.0.1\r\n', `c=IN IP4 10.0.0.1\r\nb=AS:${PROBE_CEILING_KBPS}\r\n`),
    );
  });

  test('a ceiling already there is replaced, never repeated', () => {
    const twice = withMaxBitrate(withMaxBitrate(ANSWER, 2999), 3000);
    assert.equal(twice, withMaxBitrate(ANSWER, 3000));
  });

  test('an answer without transport-wide feedback (REMB decides) is left as it is', () => {
    const remb = ANSWER.replace('a=rtcp-fb:97 transport-cc', 'a=rtcp-fb:97 goog-remb');
    assert.equal(withMaxBitrate(remb, 3000), remb);
  });
});
