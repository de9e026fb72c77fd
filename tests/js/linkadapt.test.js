// Unit tests of the sender's choice on a weak link (which step for which readings, with
// hysteresis), of the same readings' verdict on video (photo mode acts on it), and of the
// reconnection's back-off. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  CARRIES_READINGS,
  decide,
  capFor,
  encodingFor,
  initialState,
  LinkAdapter,
  readSample,
  STEPS,
  stepFor,
  TOO_WEAK_KBPS,
  TOO_WEAK_MS,
  TOO_WEAK_READINGS,
  videoVerdict,
} from '../../patient_page/static/js/linkadapt.js';
import {
  DELAYS_MS,
  NETWORK_SETTLE_MS,
  networkChanged,
  ReconnectPolicy,
  STABLE_MS,
} from '../../patient_page/static/js/reconnect.js';

const HIGH = 0;
const MEDIUM = 1;
const LOW = 2;
const MINIMAL = 3;

/** A reading of an encoder held back by the link, nothing else wrong. */
const limited = (kbps) => ({ kbps, limitation: 'bandwidth', rttMs: 40, loss: 0 });
/** A reading of a link running short: held back, some loss, a queue building up. */
const weak = (kbps) => ({ kbps, limitation: 'bandwidth', rttMs: 400, loss: 0.03 });
/** A reading where the encoder is not held back by the link. */
const free = (kbps, loss = 0) => ({ kbps, limitation: 'none', rttMs: 40, loss });
/** The first reading of a good connection. */
const START = free(1500);

/** The state after `samples`, from `state`. */
function run(samples, state = initialState()) {
  return samples.reduce(decide, state);
}

describe('steps', () => {
  test('each uplink has its step', () => {
    assert.equal(stepFor(2500), HIGH);
    assert.equal(stepFor(1200), HIGH);
    assert.equal(stepFor(800), MEDIUM);
    assert.equal(stepFor(500), MEDIUM);
    assert.equal(stepFor(300), LOW);
    assert.equal(stepFor(100), MINIMAL);
    assert.equal(stepFor(0), MINIMAL);
  });

  test('a step sets frame rate, scale from the camera and a ceiling', () => {
    assert.deepEqual(encodingFor(HIGH, 720), { maxFramerate: 30, scaleResolutionDownBy: 1 });
    assert.deepEqual(encodingFor(MEDIUM, 720), { maxFramerate: 20, scaleResolutionDownBy: 1.5, maxBitrate: 1500000 });
    assert.deepEqual(encodingFor(LOW, 720), { maxFramerate: 15, scaleResolutionDownBy: 2, maxBitrate: 800000 });
    assert.deepEqual(encodingFor(MINIMAL, 720), { maxFramerate: 10, scaleResolutionDownBy: 3, maxBitrate: 250000 });
    // A camera smaller than the step is never scaled up.
    assert.equal(encodingFor(MEDIUM, 360).scaleResolutionDownBy, 1);
    assert.equal(STEPS[MEDIUM].height, 480);
  });
});

describe('decisions', () => {
  test('one weak reading changes nothing, two in a row go straight to the link’s step', () => {
    assert.equal(run([START, weak(100)]).step, HIGH);
    assert.equal(run([START, weak(100), weak(100)]).step, MINIMAL);
    assert.equal(run([START, weak(600), weak(600)]).step, MEDIUM);
    assert.equal(run([START, weak(300), weak(300)]).step, LOW);
  });

  test('a weak reading between good ones is forgotten', () => {
    assert.equal(run([START, weak(100), free(2000), weak(100)]).step, HIGH);
  });

  test('a low estimate alone is no weak link: still growing, not holding the encoder back, or nothing short', () => {
    // The first seconds: the estimate climbs from a low start.
    assert.equal(run([limited(300), limited(330), limited(370), limited(410)]).step, HIGH);
    // A still scene needs few bits: the low estimate says nothing of the link.
    assert.equal(run([free(300), free(300), free(300)]).step, HIGH);
    // A cautious receiver's flat estimate, without loss, queue or fall.
    assert.equal(run([limited(300), limited(300), limited(300), limited(300)]).step, HIGH);
  });

  test('an estimate that falls far from its peak is a link running short, loss or not', () => {
    assert.equal(run([limited(1500), limited(400), limited(400)]).step, LOW);
    assert.equal(run([limited(1500), limited(1200), limited(1200)]).step, HIGH);
  });

  test('a queue building up (the round trip well above its lowest) is one too', () => {
    const queued = { kbps: 300, limitation: 'bandwidth', rttMs: 300, loss: 0 };
    assert.equal(run([limited(300), queued, queued]).step, LOW);
  });

  test('heavy losses cost one step at a time, whatever the estimate', () => {
    assert.equal(run([free(3000, 0.1), free(3000, 0.1)]).step, MEDIUM);
    assert.equal(run([free(3000, 0.1), free(3000, 0.1), free(3000, 0.1), free(3000, 0.1)]).step, LOW);
    assert.equal(run([free(3000, 0.02), free(3000, 0.02)]).step, HIGH);
  });

  test('going up takes three good readings above the margin, one step at a time', () => {
    const low = run([START, weak(100), weak(100)]);
    assert.equal(low.step, MINIMAL);
    assert.equal(run([free(3000), free(3000)], low).step, MINIMAL);
    const once = run([free(3000), free(3000), free(3000)], low);
    assert.equal(once.step, LOW);
    assert.equal(run([free(3000), free(3000), free(3000)], once).step, MEDIUM);
    // Just above the next step's need is not enough: no flapping at the threshold.
    assert.equal(run([free(160), free(160), free(160), free(160)], low).step, MINIMAL);
    assert.equal(run([free(190), free(190), free(190)], low).step, LOW);
  });

  test('no reading (no estimate yet) changes nothing', () => {
    const state = run([{ kbps: null, limitation: 'bandwidth', rttMs: null, loss: null }]);
    assert.equal(state.step, HIGH);
  });

});

describe('verdict on video', () => {
  /** A reading of `kbps` alone (the verdict looks at the estimate only). */
  const at = (kbps) => ({ kbps, limitation: 'bandwidth', rttMs: 40, loss: 0 });
  const blind = { kbps: null, limitation: 'none', rttMs: null, loss: null };
  const verdicts = (samples) => {
    const told = [];
    samples.reduce((state, sample) => {
      const next = decide(state, sample);
      told.push(videoVerdict(next));
      return next;
    }, initialState());
    return told;
  };

  test('too weak once the estimate stays clearly low for about five seconds, whatever the step', () => {
    assert.equal(TOO_WEAK_KBPS, 50);
    assert.ok(TOO_WEAK_READINGS * 2000 >= TOO_WEAK_MS && (TOO_WEAK_READINGS - 1) * 2000 < TOO_WEAK_MS);
    const low = Array(TOO_WEAK_READINGS).fill(at(TOO_WEAK_KBPS - 1));
    assert.deepEqual(verdicts(low), [...Array(TOO_WEAK_READINGS - 1).fill(null), 'too_weak']);
    // Still on the best step: no step carries video below the bound.
    assert.equal(run(low).step, HIGH);
  });

  test('one reading above the bound starts the count again; no estimate leaves it as it is', () => {
    const low = at(20);
    const told = verdicts([low, low, at(80), low, blind, low, low]);
    assert.deepEqual(told.slice(0, 6), [null, null, null, null, 'carries', null]);
    assert.equal(told.at(-1), 'too_weak');
  });

  test('carries video after readings in a row at twice the bound; a borderline link does not', () => {
    assert.deepEqual(verdicts(Array(6).fill(at(1.5 * TOO_WEAK_KBPS))), Array(6).fill(null));
    const good = Array(CARRIES_READINGS).fill(at(300));
    assert.deepEqual(verdicts(good), [...Array(CARRIES_READINGS - 1).fill(null), 'carries']);
  });

  test('a browser that gives no estimate: the frames arriving are the only proof', () => {
    assert.deepEqual(verdicts([blind]), ['carries']);
  });

  test('the adapter tells each change of verdict once, from one reading of the statistics', async () => {
    const estimates = [20, 20, 20, 20, 300, 300, 300, 20, 20, 20];
    let calls = 0;
    const pc = {
      getStats: async () => {
        const kbps = estimates[calls];
        calls += 1;
        return new Map([
          ['p', { type: 'candidate-pair', nominated: true, state: 'succeeded', availableOutgoingBitrate: kbps * 1000 }],
        ]);
      },
    };
    const told = [];
    const adapter = new LinkAdapter(/** @type {any} */ (pc), /** @type {any} */ ({}), {
      onStep: () => {},
      onVerdict: (verdict) => told.push(verdict),
    });
    for (let i = 0; i < estimates.length; i += 1) {
      await adapter.read();
    }
    assert.equal(calls, estimates.length);
    assert.deepEqual(told, ['too_weak', 'carries', 'too_weak']);
  });
});

describe('statistics', () => {
  test('the selected pair’s estimate, the encoder’s limit and the service’s losses are read', () => {
    const report = new Map([
      ['p1', { type: 'candidate-pair', nominated: false, state: 'failed', availableOutgoingBitrate: 9e6 }],
      [
        'p2',
        { type: 'candidate-pair', nominated: true, state: 'succeeded', availableOutgoingBitrate: 420000, currentRoundTripTime: 0.31 },
      ],
      ['o', { type: 'outbound-rtp', kind: 'video', qualityLimitationReason: 'bandwidth' }],
      ['r', { type: 'remote-inbound-rtp', kind: 'video', fractionLost: 0.03 }],
    ]);
    assert.deepEqual(readSample(report), { kbps: 420, limitation: 'bandwidth', rttMs: 310, loss: 0.03 });
    assert.deepEqual(readSample(new Map()), { kbps: null, limitation: 'none', rttMs: null, loss: null });
    // The transport's selected pair first, when the browser names it.
    const selected = new Map([
      ['p1', { id: 'p1', type: 'candidate-pair', nominated: true, state: 'succeeded', availableOutgoingBitrate: 9e6 }],
      ['p2', { id: 'p2', type: 'candidate-pair', nominated: true, state: 'succeeded', availableOutgoingBitrate: 42000 }],
      ['t', { type: 'transport', selectedCandidatePairId: 'p2' }],
    ]);
    assert.equal(readSample(selected).kbps, 42);
  });
});

describe('reconnection', () => {
  test('at once after a connection that held, then later and later while attempts fail', () => {
    const policy = new ReconnectPolicy();
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => policy.nextDelay(i * 100));
    assert.deepEqual(delays, [0, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    assert.equal(DELAYS_MS.at(-1), 15000);
  });

  test('a connection that held resets the wait; one that dropped at once does not', () => {
    const policy = new ReconnectPolicy();
    policy.nextDelay(0);
    policy.nextDelay(0);
    policy.connected(1000);
    assert.equal(policy.nextDelay(1000 + STABLE_MS), 0);
    policy.connected(50000);
    // Up and down again within a second: a flapping path backs off.
    assert.equal(policy.nextDelay(50500), 1000);
    policy.connected(52000);
    assert.equal(policy.nextDelay(52100), 2000);
  });

  test('a new network is tried at once after failures on the old one, unless networks flap', () => {
    const policy = new ReconnectPolicy();
    [0, 1, 2, 3].forEach((i) => policy.nextDelay(i));
    assert.equal(policy.onNewNetwork(10000), 0);
    assert.equal(policy.nextDelay(10100), 1000);
    // Wi-Fi, mobile data, Wi-Fi again within a second: backing off as any failure.
    assert.equal(policy.onNewNetwork(10000 + NETWORK_SETTLE_MS - 1), 2000);
    assert.equal(policy.onNewNetwork(20000 + NETWORK_SETTLE_MS), 0);
  });

  test('only a new network type is a network change', () => {
    assert.equal(networkChanged('wifi', 'cellular'), true);
    assert.equal(networkChanged('cellular', 'cellular'), false);
    // Desktops and iPhones do not tell the type: their estimates changing is no new network.
    assert.equal(networkChanged(undefined, undefined), false);
  });
});

describe('a camera larger than 720p', () => {
  test('is scaled down to 720p before the encoder', () => {
    assert.deepEqual(capFor({ width: 3840, height: 2160 }), { maxFramerate: 30, scaleResolutionDownBy: 3 });
    assert.deepEqual(capFor({ width: 1920, height: 1080 }), { maxFramerate: 30, scaleResolutionDownBy: 1.5 });
    // Held upright, a phone's picture is taller than wide: its short side counts.
    assert.deepEqual(capFor({ width: 2160, height: 3840 }), { maxFramerate: 30, scaleResolutionDownBy: 3 });
  });

  test('a camera at 720p or less, or one that does not say, is left as it is', () => {
    assert.equal(capFor({ width: 1280, height: 720 }), null);
    assert.equal(capFor({ width: 640, height: 480 }), null);
    assert.equal(capFor({}), null);
  });
});
