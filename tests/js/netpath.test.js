// Unit tests of the video's network path: what the patient page reads from getStats() and why it
// found no path, and what the console's room and timeline say of it. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { noPathText, pathTimelineLine, patientPath } from '../../integration/web/static/console/js/netpath.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { PathWatch, describePath, hasTurn, noPathReason } from '../../patient_page/static/js/path.js';
import { recordGathering } from '../../patient_page/static/js/publisher.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
});

/**
 * A getStats() report selecting a pair between `local` and `remote` candidates.
 * @param {object} local
 * @param {object} [pair]
 */
function report(local, pair = {}, remote = { candidateType: 'host' }) {
  return new Map(
    [
      { id: 'T1', type: 'transport', selectedCandidatePairId: 'P2' },
      { id: 'P1', type: 'candidate-pair', localCandidateId: 'L0', remoteCandidateId: 'R1', currentRoundTripTime: 0.5 },
      { id: 'P2', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1', currentRoundTripTime: 0.0414, ...pair },
      { id: 'L0', type: 'local-candidate', candidateType: 'host' },
      { id: 'L1', type: 'local-candidate', ...local },
      { id: 'R1', type: 'remote-candidate', ...remote },
    ].map((stat) => [stat.id, stat]),
  );
}

describe('describePath', () => {
  test("the transport's selected pair: direct, or through the relay by its protocol, with its round trip", () => {
    assert.deepEqual(describePath(report({ candidateType: 'host' })), {
      type: 'path',
      path: 'direct',
      rtt_ms: 41,
      local_type: 'host',
      relay_protocol: null,
      remote_type: 'host',
    });
    assert.equal(describePath(report({ candidateType: 'srflx' }))?.path, 'direct');
    for (const protocol of ['udp', 'tcp', 'tls']) {
      const path = describePath(report({ candidateType: 'relay', relayProtocol: protocol }));
      assert.equal(path?.path, `turn-${protocol}`);
      assert.equal(path?.relay_protocol, protocol);
      assert.equal(path?.local_type, 'relay');
    }
  });

  test("the service's own relay is a relayed path too, over UDP from the phone", () => {
    const path = describePath(report({ candidateType: 'host' }, {}, { candidateType: 'relay' }));
    assert.equal(path?.path, 'turn-udp');
    assert.equal(path?.relay_protocol, 'udp');
    assert.equal(path?.remote_type, 'relay');
  });

  test('no selected pair, an unknown relay protocol or no round trip yet', () => {
    assert.equal(describePath(new Map()), null);
    assert.equal(describePath(report({ candidateType: 'relay' })), null);
    assert.equal(describePath(report({ candidateType: 'host' }, { currentRoundTripTime: undefined }))?.rtt_ms, null);
    // A browser without the transport's selected pair: the nominated, succeeded pair.
    const other = report({ candidateType: 'relay', relayProtocol: 'tcp' }, { nominated: true, state: 'succeeded' });
    other.delete('T1');
    assert.equal(describePath(other)?.path, 'turn-tcp');
  });
});

describe('noPathReason', () => {
  test('refused credentials (401), an unreachable relay, or no TURN at all', () => {
    assert.equal(noPathReason({ turnGiven: true, relayGathered: false, errorCodes: [701, 401] }), 'turn_refused');
    assert.equal(noPathReason({ turnGiven: true, relayGathered: false, errorCodes: [701] }), 'turn_unreachable');
    assert.equal(noPathReason({ turnGiven: true, relayGathered: false, errorCodes: [] }), 'turn_unreachable');
    assert.equal(noPathReason({ turnGiven: false, relayGathered: false, errorCodes: [] }), 'no_candidates');
  });

  test('the relay answered: not a missing path', () => {
    assert.equal(noPathReason({ turnGiven: true, relayGathered: true, errorCodes: [701] }), null);
  });

  test('TURN among the ICE servers', () => {
    assert.equal(hasTurn([{ urls: ['stun:a:3478'] }, { urls: 'turns:a:443?transport=tcp' }]), true);
    assert.equal(hasTurn([{ urls: ['stun:a:3478'] }]), false);
    assert.equal(hasTurn([]), false);
  });
});

describe('the room and the timeline', () => {
  const at = '2026-01-01T10:00:00Z';
  /** @param {string} state @param {object[]} timeline */
  const session = (state, timeline) => /** @type {any} */ ({ id: 's', state, timeline, invitations: [], people: {} });

  test('the path in plain French, with the round trip', () => {
    const live = session('video_live', [
      { type: 'video.live', at, details: {} },
      { type: 'video.path', at, details: { path: 'turn-tls', rtt_ms: 41, participant_id: 'patient' } },
    ]);
    assert.equal(patientPath(live)?.text, 'Vidéo par relais TURN (TCP/TLS) — aller-retour 41 ms');
    const udp = { type: 'video.path', at, details: { path: 'turn-udp', rtt_ms: null, participant_id: 'patient' } };
    assert.equal(patientPath(session('video_live', [udp]))?.text, 'Vidéo par relais TURN (UDP)');
    const direct = { type: 'video.path', at, details: { path: 'direct', rtt_ms: 2 } };
    assert.equal(timelineLine(live, direct).text, 'Chemin de la vidéo\u00a0: Vidéo directe — aller-retour 2 ms');
  });

  test('no path: why, and the next step', () => {
    const failed = session('camera_allowed', [{ type: 'video.no_path', at, details: { reason: 'turn_unreachable', participant_id: 'patient' } }]);
    const shown = patientPath(failed);
    assert.equal(shown?.kind, 'no_path');
    assert.equal(shown?.text, 'Aucun chemin réseau\u00a0: le relais TURN est injoignable');
    assert.match(shown?.step || '', /photos/);
    assert.equal(noPathText({ reason: 'turn_refused' }), 'Aucun chemin réseau\u00a0: le relais TURN refuse les identifiants');
    assert.equal(timelineLine(failed, failed.timeline[0]).tone, 'failed');
  });

  test("a third party's path is not the patient's; a lost video or an ended session says nothing", () => {
    const third = { type: 'video.no_path', at, details: { reason: 'turn_refused', participant_id: 'third_party:7' } };
    assert.equal(patientPath(session('video_live', [third])), null);
    assert.match(pathTimelineLine(third)?.text || '', /\(tierce personne\)$/);
    const path = { type: 'video.path', at, details: { path: 'direct', rtt_ms: 1 } };
    assert.equal(patientPath(session('video_lost', [path, { type: 'video.lost', at, details: {} }])), null);
    assert.equal(patientPath(session('ended', [path])), null);
  });
});

/** A stand-in for RTCPeerConnection's events and statistics (the browser's own is not in Node). */
class FakePeer extends EventTarget {
  constructor() {
    super();
    this.connectionState = 'new';
    this.iceGatheringState = 'new';
    /** @type {Map<string, any>} */
    this.stats = new Map();
  }

  async getStats() {
    return this.stats;
  }

  /** @param {string} type @param {object} fields */
  fire(type, fields = {}) {
    this.dispatchEvent(Object.assign(new Event(type), fields));
  }
}

const TURN = [{ urls: ['turn:relay:3478?transport=udp', 'turns:relay:443?transport=tcp'], username: 'u', credential: 'c' }];

/** @param {() => boolean} condition */
async function until(condition) {
  for (let i = 0; i < 200 && !condition(); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), 'condition never met');
}

describe('PathWatch', () => {
  test('gathering ends with no candidate: the relay refused the credentials, or is unreachable', async () => {
    for (const [codes, reason] of [[[701, 401], 'turn_refused'], [[701], 'turn_unreachable']]) {
      const pc = new FakePeer();
      /** @type {string[]} */
      const said = [];
      new PathWatch(/** @type {any} */ (pc), TURN, () => {}, (why) => said.push(why));
      for (const errorCode of codes) {
        pc.fire('icecandidateerror', { errorCode });
      }
      pc.fire('icecandidate', { candidate: null });
      pc.iceGatheringState = 'complete';
      pc.fire('icegatheringstatechange');
      assert.deepEqual(said, [reason]);
    }
  });

  test('a watch made after gathering ended (its code loads lazily) still says why there is no path', () => {
    const pc = new FakePeer();
    const facts = recordGathering(/** @type {any} */ (pc));
    pc.fire('icecandidateerror', { errorCode: 701 });
    pc.fire('icecandidateerror', { errorCode: 401 });
    pc.iceGatheringState = 'complete';
    pc.fire('icegatheringstatechange');
    /** @type {string[]} */
    const said = [];
    new PathWatch(/** @type {any} */ (pc), TURN, () => {}, (why) => said.push(why), facts);
    assert.deepEqual(said, ['turn_refused']);
  });

  test('a watch made once connected reads the path at once', async () => {
    const pc = new FakePeer();
    const facts = recordGathering(/** @type {any} */ (pc));
    pc.fire('icecandidate', { candidate: { type: 'host', candidate: 'candidate:1 1 udp 1 10.0.0.2 5 typ host' } });
    pc.connectionState = 'connected';
    pc.stats = report({ candidateType: 'host' });
    /** @type {object[]} */
    const reports = [];
    const watch = new PathWatch(/** @type {any} */ (pc), TURN, (report) => reports.push(report), () => {}, facts);
    await until(() => reports.length === 1);
    assert.equal(facts.gathered, 1);
    assert.equal(watch.reason(), null);
    watch.stop();
  });

  test('a relay gathered, or a connection once up: a failure is not a missing path', () => {
    const pc = new FakePeer();
    const watch = new PathWatch(/** @type {any} */ (pc), TURN, () => {}, () => assert.fail('no path said'));
    pc.fire('icecandidate', { candidate: { type: 'relay', candidate: 'candidate:1 1 udp 1 10.0.0.1 5 typ relay' } });
    pc.iceGatheringState = 'complete';
    pc.fire('icegatheringstatechange');
    assert.equal(watch.reason(), null);
    const other = new PathWatch(/** @type {any} */ (new FakePeer()), TURN, () => {}, () => {});
    other.connected = true;
    assert.equal(other.reason(), null);
  });

  test('connected: the path once, with its round trip, then again only when it changes', async () => {
    const pc = new FakePeer();
    /** @type {any[]} */
    const reports = [];
    const watch = new PathWatch(/** @type {any} */ (pc), TURN, (report) => reports.push(report), () => {});
    pc.stats = report({ candidateType: 'relay', relayProtocol: 'udp' }, { currentRoundTripTime: undefined });
    pc.connectionState = 'connected';
    pc.fire('connectionstatechange');
    // No round trip measured yet: the page waits a little for it rather than report none.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(reports.length, 0);
    pc.stats = report({ candidateType: 'relay', relayProtocol: 'udp' });
    await until(() => reports.length === 1);
    assert.equal(reports[0].path, 'turn-udp');
    assert.equal(reports[0].rtt_ms, 41);
    watch.stop();
    pc.stats = report({ candidateType: 'relay', relayProtocol: 'tcp' });
    await /** @type {any} */ (watch).sample();
    await /** @type {any} */ (watch).sample();
    watch.stop();
    assert.deepEqual(reports.map((r) => r.path), ['turn-udp', 'turn-tcp']);
  });
});
