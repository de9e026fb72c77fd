// Unit tests of the technical test page's logic (no DOM): the figures read from getStats(), the
// verdict and its advice, and the room's timeline line. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { testResultLine } from '../../integration/web/static/console/js/testresult.js';
import { network, sample, verdict } from '../../patient_page/static/js/testpage-verdict.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
});

const GOOD = { camera: 'ok', connected: true, rtt_ms: 40, bitrate_kbps: 900, loss_percent: 0, relay: false };

describe('the verdict', () => {
  test('a good connection is ready', () => {
    assert.deepEqual(verdict(GOOD), { verdict: 'ready', advice: ['advice-ready'] });
  });

  test('slow, far or lossy is fragile, with advice; a relay is said', () => {
    assert.equal(verdict({ ...GOOD, bitrate_kbps: 120 }).verdict, 'fragile');
    assert.equal(verdict({ ...GOOD, rtt_ms: 450 }).verdict, 'fragile');
    assert.equal(verdict({ ...GOOD, loss_percent: 8 }).verdict, 'fragile');
    assert.deepEqual(verdict({ ...GOOD, loss_percent: 8, relay: true }).advice, ['advice-slow', 'advice-relay']);
    assert.deepEqual(verdict({ ...GOOD, relay: true }), { verdict: 'ready', advice: ['advice-ready', 'advice-relay'] });
  });

  test('no camera, no connection or a trickle: photos instead', () => {
    assert.deepEqual(verdict({ ...GOOD, camera: 'denied' }), { verdict: 'photos', advice: ['advice-camera', 'advice-photos'] });
    assert.deepEqual(verdict({ ...GOOD, connected: false }), { verdict: 'photos', advice: ['advice-network', 'advice-photos'] });
    assert.equal(verdict({ ...GOOD, bitrate_kbps: 40 }).verdict, 'photos');
  });

  test('figures missing from a browser do not make a verdict worse', () => {
    assert.equal(verdict({ ...GOOD, rtt_ms: null, loss_percent: null }).verdict, 'ready');
  });
});

describe('the figures', () => {
  const report = (bytes, lost, relay) => [
    { id: 'o', type: 'outbound-rtp', kind: 'video', bytesSent: bytes, packetsSent: 1000 },
    { id: 'r', type: 'remote-inbound-rtp', kind: 'video', roundTripTime: 0.09, fractionLost: lost, packetsLost: 3 },
    { id: 't', type: 'transport', selectedCandidatePairId: 'p' },
    { id: 'p', type: 'candidate-pair', localCandidateId: 'l', currentRoundTripTime: 0.05, nominated: true, state: 'succeeded' },
    { id: 'l', type: 'local-candidate', candidateType: relay ? 'relay' : 'host' },
  ];

  test('bitrate over the interval, the selected pair round trip, loss and relay', () => {
    const first = sample(new Map(report(100000, 0, false).map((stat) => [stat.id, stat])), 1000);
    const last = sample(report(475000, 0.02, true), 4000);
    assert.deepEqual(network(first, last), { rtt_ms: 50, bitrate_kbps: 1000, loss_percent: 2, relay: true });
  });

  test('no stats at all: nothing measured', () => {
    const empty = sample([], 0);
    assert.deepEqual(network(empty, sample([], 3000)), { rtt_ms: null, bitrate_kbps: null, loss_percent: null, relay: false });
  });
});

describe('the room timeline', () => {
  test('the result reads with its verdict and figures', () => {
    const line = testResultLine({ type: 'test.result', details: { ...GOOD, verdict: 'ready', relay: true } });
    assert.equal(line?.tone, 'good');
    assert.equal(
      line?.text,
      'Test du téléphone\u00a0: prêt pour la vidéo (débit 900 kbit/s, aller-retour 40 ms, pertes 0 %, par un relais)',
    );
    const none = testResultLine({ type: 'test.result', details: { verdict: 'photos', camera: 'denied' } });
    assert.equal(none?.tone, 'failed');
    assert.match(none?.text || '', /photos à la place \(caméra refusée ou indisponible\)/);
    assert.equal(testResultLine({ type: 'video.live' }), null);
  });
});
