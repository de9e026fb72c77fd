/**
 * What a session means to the regulator: its state chip, the delivery status
 * line of the patient's link, the current step, and one readable line per
 * timeline event. Pure functions over the API's JSON (no DOM).
 * @module sessions
 */

import { formatDate, formatTime, has, t } from './i18n.js';
import { documentTimelineLine } from './documents.js';
import { locationTimelineLine } from './location.js';
import { outcomeTimelineLine } from './outcome.js';
import { pathTimelineLine } from './netpath.js';
import { pageReportLine } from './pagereports.js';
import { participantTimelineLine } from './participants.js';
import { remoteTimelineLine } from './remote.js';
import { screenTimelineLine } from './screenshare.js';
import { testResultLine } from './testresult.js';

/** @typedef {import('./api.js').Session} Session */
/** @typedef {import('./api.js').Invitation} Invitation */
/** @typedef {import('./api.js').SessionEvent} SessionEvent */

/** States after which nothing can happen in a session. */
export const FINAL_STATES = ['ended', 'expired'];

/** States the history filter offers, in the order of a session's life. */
export const STATES = [
  'created',
  'invited',
  'link_opened',
  'camera_allowed',
  'video_live',
  'video_lost',
  'ended',
  'expired',
];

/** Delivery failures the catalogue explains (`details.error_id` of `invitation.failed`). */
const DELIVERY_ERRORS = [
  'gateway_unreachable',
  'gateway_timeout',
  'gateway_refused',
  'invalid_destination',
  'not_configured',
  'interrupted',
];

/**
 * Whether the session is over (its controls are hidden, its timeline stays).
 * @param {Session} session
 * @returns {boolean}
 */
export function isClosed(session) {
  return FINAL_STATES.includes(session.state);
}

/**
 * The state chip: its text and the tone it is drawn in.
 * @param {string} state
 * @returns {{text: string, tone: 'progress' | 'good' | 'warning' | 'closed'}}
 */
export function stateChip(state) {
  const text = has(`session.state.${state}`) ? t(`session.state.${state}`) : t('session.state.unknown', { state });
  if (state === 'ended' || state === 'expired') {
    return { text, tone: 'closed' };
  }
  if (state === 'video_lost') {
    return { text, tone: 'warning' };
  }
  if (state === 'link_opened' || state === 'camera_allowed' || state === 'video_live') {
    return { text, tone: 'good' };
  }
  return { text, tone: 'progress' };
}

/**
 * A number or an address as the regulator reads it: French numbers in the
 * national form (`06 12 34 56 78`), anything else as it is.
 * @param {string | null | undefined} value E.164 number or e-mail address
 * @returns {string}
 */
export function displayDestination(value) {
  if (!value) {
    return '';
  }
  // The French plan, overseas included, in its national form, as the server writes it:
  // "06 12 34 56 78", "06 92 12 34 56", "0 800 12 34 56", "041 12 34" (Saint-Pierre).
  // No-break spaces: a number never wraps in the middle.
  const plan = /^\+(?:33|262|590|594|596)([1-9]\d{8})$/.exec(value);
  if (plan) {
    const national = plan[1];
    const pairs = (/** @type {string} */ digits) => digits.match(/\d{2}/g) || [];
    const groups = national.startsWith('8')
      ? ['0', national.slice(0, 3), ...pairs(national.slice(3))]
      : [`0${national[0]}`, ...pairs(national.slice(1))];
    return groups.join('\u00a0');
  }
  const miquelon = /^\+508(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (miquelon) {
    return `0${miquelon.slice(1).join('\u00a0')}`;
  }
  return value;
}

/**
 * A destination as the regulator types it: a French number in its usual
 * form ("06 12 34 56 78", plain spaces), anything else as it is.
 * @param {string | null | undefined} value
 * @returns {string}
 */
export function editableDestination(value) {
  return displayDestination(value).replace(/\u00a0/g, ' ');
}

/**
 * Who did something, in words: a regulator's display name (their login when unknown), the
 * CAD, the service.
 * @param {string} actor as the timeline records it
 * @param {Record<string, string>} [people] display names by login (the session's `people`)
 * @returns {string}
 */
export function actorName(actor, people = {}) {
  if (actor.startsWith('cad:')) {
    return t('actor.cad', { name: actor.split(':').slice(2).join(':') || 'cad' });
  }
  if (['system', 'asterisk', 'gateway', 'patient', 'third_party'].includes(actor)) {
    return t(`actor.${actor}`);
  }
  return Object.hasOwn(people, actor) ? people[actor] : actor;
}

/**
 * The timeline as the regulator reads it: their own coming and going to the video is left out.
 * @param {Session} session
 * @param {string} self the signed-in regulator's login
 * @returns {SessionEvent[]}
 */
export function visibleTimeline(session, self) {
  return (session.timeline || []).filter(
    (event) =>
      !(
        (event.type === 'video.viewer_joined' || event.type === 'video.viewer_left') &&
        event.details &&
        event.details.viewer === self
      ),
  );
}

/**
 * The channel's name in a sentence ("SMS", "e-mail").
 * @param {string} channel
 * @returns {string}
 */
export function channelName(channel) {
  return t(channel === 'email' ? 'channel.email' : 'channel.sms');
}

/**
 * The invitation that stands for the patient: the newest patient invitation
 * (a new one revokes the previous ones).
 * @param {Session} session
 * @returns {Invitation | null}
 */
export function patientInvitation(session) {
  const patients = (session.invitations || []).filter((invitation) => invitation.role === 'patient');
  return patients.length ? patients[patients.length - 1] : null;
}

/**
 * Third-party invitations still valid, oldest first.
 * @param {Session} session
 * @returns {Invitation[]}
 */
export function thirdPartyInvitations(session) {
  return (session.invitations || []).filter(
    (invitation) => invitation.role === 'third_party' && !invitation.revoked_at,
  );
}

/**
 * The newest event of `type` about `invitation`.
 * @param {Session} session
 * @param {Invitation} invitation
 * @param {string} type
 * @returns {SessionEvent | null}
 */
function lastEventFor(session, invitation, type) {
  const timeline = session.timeline || [];
  for (let i = timeline.length - 1; i >= 0; i -= 1) {
    const event = timeline[i];
    if (event.type === type && event.details && event.details.invitation_id === invitation.id) {
      return event;
    }
  }
  return null;
}

/**
 * Why a delivery failed, in plain words.
 * @param {string | null | undefined} errorId `gateway_unreachable`... or a gateway's own code
 * @returns {string}
 */
export function failureReason(errorId) {
  if (errorId && DELIVERY_ERRORS.includes(errorId)) {
    return t(`delivery.error.${errorId}`);
  }
  return errorId ? t('delivery.error.code', { code: errorId }) : t('delivery.error.unknown');
}

/**
 * The failure reason of an invitation: the slug of its last `invitation.failed`
 * event (the invitation itself may only keep the gateway's own code).
 * @param {Session} session
 * @param {Invitation} invitation
 * @returns {string}
 */
function invitationFailure(session, invitation) {
  const event = lastEventFor(session, invitation, 'invitation.failed');
  return failureReason((event && event.details.error_id) || invitation.error_code);
}

/**
 * @typedef {object} DeliveryLine
 * @property {string} text what the status line says
 * @property {'progress' | 'good' | 'failed' | 'closed' | 'none'} tone
 * @property {boolean} failed the regulator should retry or change channel
 */

/**
 * Where an invitation stands, as one short sentence.
 * @param {Session} session
 * @param {Invitation} invitation
 * @returns {DeliveryLine}
 */
export function invitationStatus(session, invitation) {
  const channel = invitation.channel === 'email' ? 'email' : 'sms';
  if (invitation.opened_at) {
    const patient = invitation.role === 'patient';
    const key = patient ? 'room.status.opened' : 'room.status.opened.third_party';
    return { text: t(key, { time: formatTime(invitation.opened_at) }), tone: 'good', failed: false };
  }
  switch (invitation.delivery_status) {
    case 'delivered': {
      const event = lastEventFor(session, invitation, 'invitation.delivered');
      const time = formatTime(event ? event.at : invitation.created_at);
      return { text: t(`room.status.delivered.${channel}`, { time }), tone: 'good', failed: false };
    }
    case 'simulated': {
      const event = lastEventFor(session, invitation, 'invitation.simulated');
      const time = formatTime(event ? event.at : invitation.created_at);
      return { text: t(`room.status.simulated.${channel}`, { time }), tone: 'good', failed: false };
    }
    case 'sent':
    case 'queued': {
      const event = lastEventFor(session, invitation, 'invitation.sent');
      const time = formatTime(event ? event.at : invitation.created_at);
      return { text: t(`room.status.sent.${channel}`, { time }), tone: 'progress', failed: false };
    }
    case 'failed':
      return {
        text: t(`room.status.failed.${channel}`, { reason: invitationFailure(session, invitation) }),
        tone: 'failed',
        failed: true,
      };
    case 'undelivered':
      return { text: t(`room.status.undelivered.${channel}`), tone: 'failed', failed: true };
    default:
      return {
        text: t(`room.status.pending.${channel}`, { destination: displayDestination(invitation.destination) }),
        tone: 'progress',
        failed: false,
      };
  }
}

/** Browser families whose camera settings the console can explain (the patient page's). */
const BROWSER_FAMILIES = ['ios', 'samsung', 'firefox', 'chrome'];

/**
 * @typedef {object} CameraProblem
 * @property {'denied' | 'unavailable'} kind refused by the patient, or the camera would not start
 * @property {string} family the patient's browser (`ios`, `chrome`... or `other`)
 * @property {string} at when the page said so
 */

/**
 * The patient's camera trouble, when the latest word of the page about its camera is a refusal
 * or a failure and no video came since.
 * @param {Session} session
 * @returns {CameraProblem | null}
 */
export function cameraProblem(session) {
  if (['video_live', 'camera_allowed', 'ended', 'expired'].includes(session.state)) {
    return null;
  }
  const events = session.timeline || [];
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const event = events[i];
    if (event.type === 'camera.allowed' || event.type === 'video.live') {
      return null;
    }
    if (event.type === 'camera.denied' || event.type === 'camera.unavailable') {
      // The page writes the browser's family after the error's name: "NotAllowedError (chrome)".
      const detail = String((event.details || {}).detail ?? '');
      const match = /\((\w+)\)\s*$/.exec(detail);
      const family = match && BROWSER_FAMILIES.includes(match[1]) ? match[1] : 'other';
      return { kind: event.type === 'camera.denied' ? 'denied' : 'unavailable', family, at: event.at };
    }
  }
  return null;
}

/**
 * The room's state chip: the session's state, drawn as a warning while the camera is refused.
 * @param {Session} session
 * @returns {{text: string, tone: 'progress' | 'good' | 'warning' | 'closed'}}
 */
export function sessionChip(session) {
  const problem = cameraProblem(session);
  if (problem) {
    return { text: t(`session.state.camera_${problem.kind}`), tone: 'warning' };
  }
  return stateChip(session.state);
}

/**
 * The room's status line: the patient link's delivery, or the end of the session.
 * @param {Session} session
 * @returns {DeliveryLine}
 */
export function deliveryLine(session) {
  if (session.state === 'ended') {
    return { text: t('room.status.ended', { time: formatTime(session.ended_at) }), tone: 'closed', failed: false };
  }
  if (session.state === 'expired') {
    return { text: t('room.status.expired', { time: formatTime(session.ended_at) }), tone: 'closed', failed: false };
  }
  // Once the patient acts, the latest step matters more than the link's: say it, with its time.
  const problem = cameraProblem(session);
  if (problem) {
    return { text: t(`room.status.camera_${problem.kind}`, { time: formatTime(problem.at) }), tone: 'failed', failed: false };
  }
  if (session.state === 'video_lost') {
    // As the placeholder tells it: the patient's own stop since the last video, or a loss.
    const last = lastEventOf(session, ['patient.left', 'video.live']);
    const left = last !== undefined && last.type === 'patient.left';
    const event = left ? last : lastEvent(session, 'video.lost');
    if (event) {
      return {
        text: t(left ? 'room.status.left' : 'room.status.lost', { time: formatTime(event.at) }),
        tone: left ? 'progress' : 'failed',
        failed: false,
      };
    }
  }
  const step = LATEST_STEP[session.state];
  const event = step ? lastEvent(session, step.event) : undefined;
  if (step && event) {
    return { text: t(step.key, { time: formatTime(event.at) }), tone: step.tone, failed: false };
  }
  const invitation = patientInvitation(session);
  if (!invitation) {
    return { text: t('room.status.none'), tone: 'none', failed: false };
  }
  return invitationStatus(session, invitation);
}

/** @type {Record<string, {event: string, key: string, tone: DeliveryLine['tone']}>} */
const LATEST_STEP = {
  camera_allowed: { event: 'camera.allowed', key: 'room.status.camera', tone: 'good' },
  video_live: { event: 'video.live', key: 'room.status.live', tone: 'good' },
};

/**
 * The newest timeline event of one of `types`.
 * @param {Session} session
 * @param {string[]} types
 */
function lastEventOf(session, types) {
  return [...(session.timeline || [])].reverse().find((event) => types.includes(event.type));
}

/**
 * The newest timeline event of type `type`.
 * @param {Session} session
 * @param {string} type
 */
function lastEvent(session, type) {
  return [...(session.timeline || [])].reverse().find((event) => event.type === type);
}

/**
 * The placeholder's lines: what the room waits for, the current step, and the steps the
 * regulator reads out to the patient when the camera is refused.
 * @param {Session} session
 * @returns {{title: string, step: string, help?: string}}
 */
export function currentStep(session) {
  const problem = cameraProblem(session);
  if (problem && problem.kind === 'denied') {
    return {
      title: t('room.video.camera_denied'),
      step: t('room.step.camera_denied'),
      help: t(`room.camera_help.${problem.family}`),
    };
  }
  if (problem) {
    return { title: t('room.video.camera_unavailable'), step: t('room.step.camera_unavailable') };
  }
  switch (session.state) {
    case 'ended':
      return { title: t('room.video.ended'), step: t('room.step.closed') };
    case 'expired':
      return { title: t('room.video.expired'), step: t('room.step.closed') };
    case 'camera_allowed':
      return { title: t('room.video.waiting'), step: t('room.step.camera') };
    case 'video_live':
      return { title: t('room.video.live'), step: '' };
    case 'video_lost': {
      // The patient's own "Terminer" is not a network loss: say who stopped it.
      const events = session.timeline || [];
      const last = [...events].reverse().find((event) => event.type === 'patient.left' || event.type === 'video.live');
      const left = last !== undefined && last.type === 'patient.left';
      return {
        title: t(left ? 'room.video.left' : 'room.video.lost'),
        step: t(left ? 'room.step.left' : 'room.step.lost'),
      };
    }
    case 'link_opened':
      return { title: t('room.video.waiting'), step: t('room.step.opened') };
    default:
      break;
  }
  const invitation = patientInvitation(session);
  const line = deliveryLine(session);
  if (!invitation) {
    return { title: t('room.video.waiting'), step: t('room.step.none') };
  }
  if (line.failed) {
    return { title: t('room.video.waiting'), step: t('room.step.failed') };
  }
  if (invitation.delivery_status === 'simulated') {
    return { title: t('room.video.waiting'), step: t('room.step.simulated') };
  }
  if (['sent', 'queued', 'delivered'].includes(invitation.delivery_status)) {
    const channel = invitation.channel === 'email' ? 'email' : 'sms';
    return { title: t('room.video.waiting'), step: t(`room.step.sent.${channel}`) };
  }
  return { title: t('room.video.waiting'), step: t('room.step.sending') };
}

/**
 * The call line: "Appel associé : 06 12 34 56 78, ligne 15", empty when the
 * session was opened without a call.
 * @param {Session} session
 * @param {string | null} line the call's line when the console still knows the call
 * @returns {string}
 */
export function callLine(session, line) {
  if (!session.call_id) {
    return '';
  }
  const number = session.caller_number ? displayDestination(session.caller_number) : t('call.number.withheld');
  return line ? t('room.call', { number, line }) : t('room.call.no_line', { number });
}

/**
 * What became of the paired call, from its latest event in the timeline.
 * @param {Session} session
 * @returns {string} empty when nothing happened to the call yet
 */
export function callStatus(session) {
  const timeline = session.timeline || [];
  let paired = false;
  for (let i = timeline.length - 1; i >= 0; i -= 1) {
    const event = timeline[i];
    const time = formatTime(event.at);
    const details = event.details || {};
    switch (event.type) {
      case 'call.paired':
        paired = true; // a failure before it was mended by a retry: no longer news
        break;
      case 'call.ended':
        return t('room.call.ended', { time });
      case 'call.transferred':
        return t('room.call.transferred', { position: String(details.to ?? ''), time });
      case 'call.answered':
        return t('room.call.answered', { position: String(details.position ?? ''), time });
      case 'call.pairing_failed':
        if (!paired) {
          return t('room.call.pairing_failed');
        }
        break;
      default:
        break;
    }
  }
  return '';
}

/**
 * When a session was opened, in a sentence (with the date when not today).
 * @param {Session} session
 * @returns {string}
 */
export function openedLine(session) {
  const params = {
    time: formatTime(session.created_at),
    date: formatDate(session.created_at),
    actor: actorName(session.created_by, session.people),
  };
  const today = formatDate(new Date().toISOString()) === params.date;
  const opened = t(today ? 'room.opened.today' : 'room.opened.other_day', params);
  return session.position ? `${opened} · ${t('room.opened.position', { position: session.position })}` : opened;
}

/**
 * @param {Session} session
 * @param {unknown} invitationId
 * @returns {Invitation | undefined}
 */
function invitationById(session, invitationId) {
  return (session.invitations || []).find((invitation) => invitation.id === invitationId);
}

/**
 * One readable line for a timeline event.
 * @param {Session} session the event's session (to name invitations)
 * @param {SessionEvent} event
 * @returns {{text: string, tone: 'normal' | 'good' | 'failed' | 'muted'}}
 */
export function timelineLine(session, event) {
  const details = event.details || {};
  const invitation = invitationById(session, details.invitation_id);
  const channel = (details.channel || (invitation && invitation.channel)) === 'email' ? 'email' : 'sms';
  const destination = displayDestination(details.destination || (invitation && invitation.destination) || '');
  const role = (details.role || (invitation && invitation.role)) === 'third_party' ? 'third_party' : 'patient';
  const actor = actorName(event.actor || '', session.people);
  const viewer = actorName(String(details.viewer ?? ''), session.people);
  switch (event.type) {
    case 'session.created':
      return { text: t('timeline.session.created', { actor }), tone: 'normal' };
    case 'invitation.created':
      return {
        text: t(`timeline.invitation.created.${role}`, { destination, channel: channelName(channel) }),
        tone: 'normal',
      };
    case 'invitation.sent':
      return { text: t(`timeline.invitation.sent.${channel}`, { destination }), tone: 'normal' };
    case 'invitation.delivered':
      return { text: t(`timeline.invitation.delivered.${channel}`, { destination }), tone: 'good' };
    case 'invitation.simulated':
      return { text: t(`timeline.invitation.simulated.${channel}`, { destination }), tone: 'normal' };
    case 'invitation.failed':
      return {
        text: t(`timeline.invitation.failed.${channel}`, {
          reason: failureReason(details.error_id || details.error_code),
        }),
        tone: 'failed',
      };
    case 'invitation.undelivered':
      return { text: t(`timeline.invitation.undelivered.${channel}`, { destination }), tone: 'failed' };
    case 'invitation.status':
      return { text: t('timeline.invitation.status', { status: String(details.status ?? '') }), tone: 'muted' };
    case 'invitation.revoked':
      return { text: t('timeline.invitation.revoked', { destination }), tone: 'muted' };
    case 'invitation.retried':
      return { text: t('timeline.invitation.retried', { destination, actor }), tone: 'normal' };
    case 'link.opened': {
      const again = details.first === false ? 'reopened' : 'opened';
      return { text: t(`timeline.link.${again}.${role}`), tone: role === 'patient' ? 'good' : 'muted' };
    }
    case 'link.taken_over':
      return { text: t(`timeline.link.taken_over.${role}`), tone: 'normal' };
    case 'link.refused': {
      const reason = has(`timeline.refused.${details.reason}`)
        ? t(`timeline.refused.${details.reason}`)
        : String(details.reason ?? '');
      return { text: t('timeline.link.refused', { reason }), tone: 'failed' };
    }
    case 'call.paired':
      return { text: t('timeline.call.paired'), tone: 'normal' };
    case 'call.pairing_failed':
      return { text: t('timeline.call.pairing_failed'), tone: 'failed' };
    case 'call.answered':
      return { text: t('timeline.call.answered', { position: String(details.position ?? '') }), tone: 'normal' };
    case 'call.transferred':
      return {
        text: t('timeline.call.transferred', { from: String(details.from ?? ''), to: String(details.to ?? '') }),
        tone: 'normal',
      };
    case 'call.ended':
      return { text: t('timeline.call.ended'), tone: 'normal' };
    case 'camera.allowed':
      return { text: t('timeline.camera.allowed'), tone: 'good' };
    case 'camera.denied':
      return { text: t('timeline.camera.denied', { detail: String(details.detail ?? '') }), tone: 'failed' };
    case 'camera.unavailable':
      return { text: t('timeline.camera.unavailable', { detail: String(details.detail ?? '') }), tone: 'failed' };
    case 'text.sent':
      return { text: t('timeline.text.sent', { actor, text: String(details.text ?? '') }), tone: 'normal' };
    case 'text.received':
      return { text: t('timeline.text.received', { text: String(details.text ?? '') }), tone: 'good' };
    case 'patient.left':
      return { text: t('timeline.patient.left'), tone: 'normal' };
    case 'video.viewer_joined':
      return { text: t('timeline.video.viewer_joined', { viewer }), tone: 'muted' };
    case 'video.viewer_left':
      return { text: t('timeline.video.viewer_left', { viewer }), tone: 'muted' };
    case 'video.live':
      return { text: t('timeline.video.live'), tone: 'good' };
    case 'video.lost':
      return { text: t('timeline.video.lost'), tone: 'failed' };
    case 'video.moved':
      return { text: t('timeline.video.moved'), tone: 'normal' };
    case 'still.taken':
      return { text: t('timeline.still.taken', { actor }), tone: 'normal' };
    case 'session.ended': {
      const reason = details.reason;
      if (reason && reason !== 'ended_by_regulator' && has(`end.reason.${reason}`)) {
        return { text: t('timeline.session.ended.reason', { actor, reason: t(`end.reason.${reason}`) }), tone: 'muted' };
      }
      return { text: t('timeline.session.ended', { actor }), tone: 'muted' };
    }
    case 'session.expired':
      return { text: t('timeline.session.expired'), tone: 'muted' };
    default:
      return (
        remoteTimelineLine(event, actor) ||
        screenTimelineLine(event, actor) ||
        locationTimelineLine(event, actor) ||
        documentTimelineLine(event, actor) ||
        participantTimelineLine(event, destination) ||
        pathTimelineLine(event) ||
        pageReportLine(event) ||
        // The outcome's own words for its events that no part above renders.
        outcomeTimelineLine(event) ||
        testResultLine(event) || { text: t('timeline.unknown', { type: String(event.type) }), tone: 'muted' }
      );
  }
}
