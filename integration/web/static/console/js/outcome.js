/**
 * The session's outcome as the regulator reads it: one sentence (is the
 * video there, and if not, why), the next step, and the buttons that do it.
 * The service reads the outcome from the session's log (`session.outcome`);
 * this module only words it, and the log events it is made of. Pure functions
 * (no DOM).
 * @module outcome
 */

import { formatTime, has, t } from './i18n.js';
import { PATHS } from './netpath.js';

/**
 * @typedef {object} SessionOutcome
 * @property {string} kind `video_established`, `not_delivered`, `link_not_opened`...
 * @property {'good' | 'progress' | 'warning' | 'failed'} tone
 * @property {boolean} final the session has ended: this is how it ended
 * @property {string[]} next_steps `retry`, `resend`, `email`, `sms`, `photo`
 * @property {Record<string, any>} details
 * @property {string | null} at
 */

/**
 * @typedef {object} OutcomeLines
 * @property {string} title what happened, in one sentence
 * @property {string} next what to do now (empty when nothing)
 * @property {'good' | 'progress' | 'warning' | 'failed'} tone
 */

/**
 * The outcome's sentences.
 * @param {SessionOutcome} outcome
 * @returns {OutcomeLines}
 */
export function outcomeLines(outcome) {
  const details = outcome.details || {};
  const kind = has(`outcome.${outcome.kind}`) ? outcome.kind : 'unknown';
  const channel = details.channel === 'email' ? 'email' : 'sms';
  const params = {
    channel: t(channel === 'email' ? 'channel.email' : 'channel.sms'),
    minutes: String(details.minutes ?? ''),
    photos: String(details.photos ?? 0),
    time: outcome.at ? formatTime(outcome.at) : '',
  };
  let title = t(`outcome.${kind}`, params);
  if (kind === 'video_established' && PATHS.includes(details.path)) {
    const path = t(`outcome.path.${details.path}`);
    title = typeof details.rtt_ms === 'number'
      ? t('outcome.video_established.path_rtt', { path, rtt: String(details.rtt_ms) })
      : t('outcome.video_established.path', { path });
  }
  if (kind === 'link_not_opened' && details.minutes) {
    title = t(`outcome.link_not_opened.minutes.${channel}`, params);
  }
  if (kind === 'not_delivered') {
    title = t(`outcome.not_delivered.${channel}`);
  }
  if (kind === 'browser_unsupported' && details.app) {
    title = t('outcome.browser_unsupported.app', { app: String(details.app) });
  }
  const nextKey = outcome.final ? `outcome.${kind}.final` : `outcome.${kind}.next`;
  let next = has(nextKey) ? t(nextKey, params) : '';
  if (kind === 'video_established' && outcome.final && details.interruptions) {
    next = t('outcome.video_established.interrupted', { count: String(details.interruptions) });
  }
  return { title, next, tone: outcome.tone };
}

/**
 * The label of a next-step button.
 * @param {string} step `retry`, `resend`, `email`, `sms` or `photo`
 * @param {string} channel the patient link's channel (`sms` or `email`)
 * @returns {string}
 */
export function stepLabel(step, channel) {
  if (step === 'retry' || step === 'resend') {
    return t(`outcome.step.${step}.${channel === 'email' ? 'email' : 'sms'}`);
  }
  return t(`outcome.step.${step}`);
}

/**
 * One readable line for the log events the outcome is made of, or null for another event
 * (and for those another module words: the path's, `video.path` and `video.no_path`, are
 * `netpath.js`'s).
 * @param {import('./api.js').SessionEvent} event
 * @returns {{text: string, tone: 'normal' | 'good' | 'failed' | 'muted'} | null}
 */
export function outcomeTimelineLine(event) {
  const details = event.details || {};
  switch (event.type) {
    case 'video.stalled':
      return { text: t('timeline.video.stalled'), tone: 'failed' };
    case 'video.resumed': {
      const seconds = Math.max(1, Math.round(Number(details.stalled_ms || 0) / 1000));
      return { text: t('timeline.video.resumed', { seconds: String(seconds) }), tone: 'good' };
    }
    case 'link.not_opened': {
      const channel = details.channel === 'email' ? 'email' : 'sms';
      return { text: t(`timeline.link.not_opened.${channel}`, { minutes: String(details.minutes ?? '') }), tone: 'failed' };
    }
    case 'patient.browser_unsupported':
      return {
        text: details.app
          ? t('timeline.reported.browser_unsupported.app', { app: String(details.app) })
          : t('timeline.reported.browser_unsupported'),
        tone: 'failed',
      };
    case 'video.photo_mode':
      return {
        text: t(details.reason === 'weak_link' ? 'timeline.reported.photo_mode.weak_link' : 'timeline.reported.photo_mode'),
        tone: 'failed',
      };
    case 'video.photo_mode_ended':
      return { text: t('timeline.reported.photo_mode_ended'), tone: 'good' };
    case 'video.reconnecting':
      return { text: t('timeline.reported.reconnecting'), tone: 'normal' };
    default:
      return null;
  }
}

/** Outcomes that say, in place of the waiting text, why no video comes. */
const BLOCKING = ['browser_unsupported', 'no_path', 'network_weak', 'photos_only'];

/**
 * What the video area says instead of "waiting" when the outcome explains why no video comes,
 * or null.
 * @param {SessionOutcome | undefined} outcome
 * @returns {OutcomeLines | null}
 */
export function placeholderLines(outcome) {
  if (!outcome || outcome.final || !BLOCKING.includes(outcome.kind)) {
    return null;
  }
  return outcomeLines(outcome);
}

/**
 * What to write over the patient's picture while no frame comes, or '' while it moves.
 * @param {SessionOutcome | undefined} outcome
 * @returns {'' | 'frozen' | 'interrupted'}
 */
export function videoNotice(outcome) {
  if (!outcome || outcome.final) {
    return '';
  }
  if (outcome.kind === 'video_frozen') {
    return 'frozen';
  }
  return outcome.kind === 'video_lost' ? 'interrupted' : '';
}
