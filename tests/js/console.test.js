// Unit tests of the console's logic (no DOM): routes, numbers as the regulator reads them, the
// call card's advice, the session's status line. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { callerNumberText, hintText, stateLabel, suggestedDestination } from '../../integration/web/static/console/js/callcard.js';
import { parseRoute, routeHash } from '../../integration/web/static/console/js/router.js';
import {
  actorName,
  cameraProblem,
  currentStep,
  deliveryLine,
  displayDestination,
  editableDestination,
  isClosed,
  invitationStatus,
  patientInvitation,
  sessionChip,
  stateChip,
  thirdPartyInvitations,
  timelineLine,
  visibleTimeline,
} from '../../integration/web/static/console/js/sessions.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
});

/** A call as the console's socket sends it. */
function call(overrides = {}) {
  return {
    call_id: 'c1',
    line: '15',
    state: 'answered',
    position: 'PJSIP/1001',
    previous_positions: [],
    caller: { raw: '+33612345678', e164: '+33612345678', display: '06 12 34 56 78', kind: 'mobile', sms_capable: true },
    suggested_channel: 'sms',
    started_at: '2026-12-05T10:00:00Z',
    ...overrides,
  };
}

describe('router', () => {
  test('a session route survives the round trip through the hash', () => {
    const route = parseRoute('#/session/AbC-12_x');
    assert.deepEqual(route, { name: 'session', id: 'AbC-12_x' });
    assert.equal(routeHash(route), '#/session/AbC-12_x');
  });

  test('history, anchors and hostile hashes', () => {
    assert.deepEqual(parseRoute('#/history'), { name: 'history' });
    assert.deepEqual(parseRoute('#main'), { name: 'call' });
    assert.deepEqual(parseRoute('#/session/../../etc'), { name: 'call' });
    assert.deepEqual(parseRoute('#/session/<img src=x>'), { name: 'call' });
    assert.deepEqual(parseRoute(`#/session/${'a'.repeat(65)}`), { name: 'call' });
    assert.equal(routeHash({ name: 'call' }), '');
  });

  test("the CAD's deep link opens a call's card by its id", () => {
    const route = parseRoute('#/call/1733400000.42');
    assert.deepEqual(route, { name: 'call', id: '1733400000.42' });
    assert.equal(routeHash(route), '#/call/1733400000.42');
    assert.deepEqual(parseRoute('#/call/%31%37.5'), { name: 'call', id: '17.5' });
    assert.deepEqual(parseRoute('#/call/<script>'), { name: 'call' });
    assert.deepEqual(parseRoute('#/call/%E0%A4%A'), { name: 'call' });
    assert.deepEqual(parseRoute(`#/call/${'1'.repeat(129)}`), { name: 'call' });
  });
});

describe('numbers as the regulator reads them', () => {
  test('a French number is shown in the national form and never wraps', () => {
    assert.equal(displayDestination('+33612345678'), '06\u00a012\u00a034\u00a056\u00a078');
    assert.equal(editableDestination('+33612345678'), '06 12 34 56 78');
  });

  test('an address or a foreign number stays as it is', () => {
    assert.equal(displayDestination('patient@example.org'), 'patient@example.org');
    assert.equal(displayDestination('+447700900123'), '+447700900123');
    assert.equal(displayDestination(null), '');
  });

  test('the call card prefills a mobile, and asks for a number otherwise', () => {
    assert.equal(suggestedDestination(call()), '06 12 34 56 78');
    const landline = call({
      caller: { raw: '0145454545', e164: '+33145454545', display: '01 45 45 45 45', kind: 'landline', sms_capable: false },
      suggested_channel: 'ask_number',
    });
    assert.equal(suggestedDestination(landline), '');
    assert.match(hintText(landline, { movedAway: false }), /\S/);
    assert.notEqual(hintText(landline, { movedAway: false }), 'call.hint.landline');
  });

  test('a withheld number is said so, not shown as empty', () => {
    const withheld = call({ caller: { raw: '', e164: null, display: null, kind: 'withheld', sms_capable: false } });
    const text = callerNumberText(withheld);
    assert.ok(text.length > 0);
    assert.notEqual(text, 'call.number.withheld');
    assert.equal(suggestedDestination(withheld), '');
  });

  test('a call no desk has says it waits for a regulator, or left the centre', () => {
    const waiting = stateLabel(call({ state: 'waiting', position: null }), { movedAway: false });
    assert.deepEqual(waiting, { text: 'En attente de régulateur', state: 'waiting' });
    const out = stateLabel(call({ state: 'transferred_out', position: null }), { movedAway: true });
    assert.deepEqual(out, { text: 'Transféré hors du centre', state: 'transferred_out' });
  });

  test('a mobile call that moved to another desk says so instead of the usual advice', () => {
    const moved = hintText(call(), { movedAway: true });
    assert.notEqual(moved, hintText(call(), { movedAway: false }));
  });
});

describe('sessions', () => {
  const invitation = (role, extra = {}) => ({
    id: `${role}-${Math.random()}`,
    role,
    channel: 'sms',
    destination: '+33612345678',
    status: 'sent',
    created_at: '2026-12-05T10:00:00Z',
    revoked_at: null,
    ...extra,
  });

  test('the newest patient invitation stands for the patient; revoked third parties are hidden', () => {
    const first = invitation('patient');
    const second = invitation('patient');
    const gone = invitation('third_party', { revoked_at: '2026-12-05T10:05:00Z' });
    const kept = invitation('third_party');
    const session = { state: 'invited', invitations: [first, gone, second, kept], events: [] };
    assert.equal(patientInvitation(session), second);
    assert.deepEqual(thirdPartyInvitations(session), [kept]);
    assert.equal(patientInvitation({ state: 'created', invitations: [], events: [] }), null);
  });

  test('closed states hide the controls; chips have a tone per state', () => {
    assert.ok(isClosed({ state: 'ended' }));
    assert.ok(isClosed({ state: 'expired' }));
    assert.ok(!isClosed({ state: 'video_live' }));
    assert.equal(stateChip('video_live').tone, 'good');
    assert.equal(stateChip('video_lost').tone, 'warning');
    assert.equal(stateChip('ended').tone, 'closed');
    assert.equal(stateChip('invited').tone, 'progress');
    assert.match(stateChip('no_such_state').text, /no_such_state/);
  });

  test('the status line follows the latest step once the patient acts', () => {
    const session = {
      state: 'video_live',
      invitations: [invitation('patient')],
      timeline: [
        { type: 'camera.allowed', at: '2026-12-05T10:00:30Z', actor: 'patient', details: {} },
        { type: 'video.live', at: '2026-12-05T10:00:31Z', actor: 'patient', details: {} },
      ],
    };
    const line = deliveryLine(session);
    assert.equal(line.tone, 'good');
    assert.equal(line.failed, false);
    assert.ok(!line.text.startsWith('room.status'), line.text);
  });

  test("the patient's own Terminer is not shown as a network loss", () => {
    const live = { type: 'video.live', at: '2026-12-05T10:00:31Z', actor: 'patient', details: {} };
    const left = { type: 'patient.left', at: '2026-12-05T10:02:00Z', actor: 'patient', details: {} };
    const base = { state: 'video_lost', invitations: [invitation('patient')] };
    const byPatient = currentStep({ ...base, timeline: [live, left] });
    const byNetwork = currentStep({ ...base, timeline: [left, live] });
    assert.notEqual(byPatient.step, byNetwork.step);
    assert.equal(byPatient.title, 'Vidéo arrêtée par le patient');
    assert.equal(byNetwork.title, 'Vidéo du patient interrompue');
  });

  test("a refused camera is the room's news, with the steps of the patient's browser", () => {
    const opened = { type: 'link.opened', at: '2026-12-05T10:00:20Z', actor: 'patient', details: {} };
    const denied = (family) => ({
      type: 'camera.denied',
      at: '2026-12-05T10:00:30Z',
      actor: 'patient',
      details: { detail: `NotAllowedError (${family})` },
    });
    const session = { state: 'link_opened', invitations: [invitation('patient')], timeline: [opened, denied('ios')] };
    assert.deepEqual(cameraProblem(session), { kind: 'denied', family: 'ios', at: '2026-12-05T10:00:30Z' });
    const chip = sessionChip(session);
    assert.equal(chip.tone, 'warning');
    assert.equal(chip.text, 'Caméra refusée');
    const line = deliveryLine(session);
    assert.equal(line.tone, 'failed');
    assert.match(line.text, /^Caméra refusée par le patient à /);
    const step = currentStep(session);
    assert.equal(step.title, "Le patient a refusé l'accès à sa caméra");
    assert.match(step.help || '', /^iPhone/);
    assert.match(currentStep({ ...session, timeline: [denied('samsung')] }).help || '', /^Samsung Internet/);
    assert.match(currentStep({ ...session, timeline: [denied('firefox')] }).help || '', /^Firefox/);
    assert.match(currentStep({ ...session, timeline: [denied('chrome')] }).help || '', /^Chrome/);
    assert.match(currentStep({ ...session, timeline: [denied('weird')] }).help || '', /réglages de son navigateur/);
    // Allowed since: no more news; the video's line again.
    const allowed = { type: 'camera.allowed', at: '2026-12-05T10:01:00Z', actor: 'patient', details: {} };
    assert.equal(cameraProblem({ ...session, timeline: [denied('ios'), allowed] }), null);
    assert.equal(cameraProblem({ ...session, state: 'ended' }), null);
  });

  test('a lost video is never shown over a good link line', () => {
    const live = { type: 'video.live', at: '2026-12-05T10:00:31Z', actor: 'patient', details: {} };
    const lost = { type: 'video.lost', at: '2026-12-05T10:02:00Z', actor: 'system', details: {} };
    const left = { type: 'patient.left', at: '2026-12-05T10:02:00Z', actor: 'patient', details: {} };
    const patient = invitation('patient', { opened_at: '2026-12-05T10:00:20Z' });
    const base = { state: 'video_lost', invitations: [patient] };
    const byNetwork = deliveryLine({ ...base, timeline: [live, lost] });
    assert.equal(byNetwork.tone, 'failed');
    assert.match(byNetwork.text, /^Vidéo du patient interrompue à /);
    // The relay's loss that follows the patient's own stop is still the patient's stop.
    const byPatient = deliveryLine({ ...base, timeline: [live, left, lost] });
    assert.notEqual(byPatient.tone, 'good');
    assert.match(byPatient.text, /^Le patient a arrêté la vidéo à /);
  });

  test('people by their display names; my own watching left out of my timeline', () => {
    const joined = (viewer) => ({
      type: 'video.viewer_joined',
      at: '2026-12-05T10:00:40Z',
      actor: 'system',
      details: { viewer, viewer_id: `${viewer}:x` },
    });
    const session = {
      state: 'video_live',
      created_by: 'mdupont',
      invitations: [],
      people: { mdupont: 'Marie Dupont', medecin: 'Dr Anne Martin' },
      timeline: [joined('mdupont'), joined('medecin'), joined('inconnu')],
    };
    assert.equal(actorName('mdupont', session.people), 'Marie Dupont');
    assert.equal(actorName('toString', session.people), 'toString');
    const mine = visibleTimeline(session, 'mdupont').map((event) => timelineLine(session, event).text);
    assert.deepEqual(mine, ['Dr Anne Martin regarde la visio', 'inconnu regarde la visio']);
  });

  test('an outbox invitation is simulated, never sent or delivered', () => {
    const simulated = invitation('patient', { delivery_status: 'simulated' });
    const event = {
      type: 'invitation.simulated',
      at: '2026-12-05T10:00:05Z',
      actor: 'system',
      details: { invitation_id: simulated.id, channel: 'sms' },
    };
    const session = { state: 'invited', invitations: [simulated], timeline: [event] };
    const status = invitationStatus(session, simulated);
    assert.match(status.text, /^SMS simulé à /);
    assert.equal(status.failed, false);
    assert.equal(
      timelineLine(session, event).text,
      "SMS simulé pour le 06\u00a012\u00a034\u00a056\u00a078 (boîte d'envoi locale)",
    );
    assert.match(currentStep(session).step, /rien n'est parti/);
    for (const text of [status.text, timelineLine(session, event).text, currentStep(session).step]) {
      assert.doesNotMatch(text, /remis|envoyé|délivré/);
    }
  });

  test('who did what, in words', () => {
    assert.equal(actorName('mdupont'), 'mdupont');
    assert.match(actorName('cad:key:SAMU-CAD'), /SAMU-CAD/);
    assert.ok(!actorName('patient').startsWith('actor.'));
  });
});
