/**
 * The call card: line, state, the caller's number in big, its kind, and the
 * invitation form. The same card, without a call, is the empty state with a
 * manual invitation form, so nothing jumps when a call arrives.
 * @module callcard
 */

import { applyTranslations, formatTime, t } from './i18n.js';
import { InvitationForm } from './invite.js';
import { editableDestination } from './sessions.js';

/** @typedef {import('./calls.js').Call} Call */
/** @typedef {import('./calls.js').Caller} Caller */

/**
 * @typedef {object} CallContext
 * @property {boolean} movedAway the call was transferred to another position
 */

let nextId = 0;

/**
 * The number as the regulator reads it.
 * @param {Call} call
 * @returns {string}
 */
export function callerNumberText(call) {
  const caller = call.caller || /** @type {Partial<Caller>} */ ({});
  if (caller.kind === 'withheld') {
    return t('call.number.withheld');
  }
  return caller.display || caller.e164 || caller.raw || t('call.number.invalid');
}

/**
 * The badge: what can be done with the number.
 * @param {Call} call
 * @returns {{text: string, kind: string}}
 */
export function kindBadge(call) {
  const kind = (call.caller && call.caller.kind) || 'invalid';
  return { text: t(`call.kind.${kind}`), kind };
}

/**
 * The state line: "Décroché à 10:42:03", "En attente", "Transféré vers ...".
 * @param {Call} call
 * @param {CallContext} context
 * @returns {{text: string, state: string}}
 */
export function stateLabel(call, context) {
  if (context.movedAway && call.state !== 'waiting' && call.state !== 'transferred_out') {
    return { text: t('call.state.moved', { position: call.position }), state: 'moved' };
  }
  switch (call.state) {
    case 'answered':
      return { text: t('call.state.answered', { time: formatTime(call.answered_at || call.started_at) }), state: 'answered' };
    case 'held':
      return { text: t('call.state.held'), state: 'held' };
    case 'waiting':
      return { text: t('call.state.waiting'), state: 'waiting' };
    case 'transferred_out':
      return { text: t('call.state.transferred_out'), state: 'transferred_out' };
    case 'ended':
      return { text: t('call.state.ended', { time: formatTime(call.ended_at) }), state: 'ended' };
    default:
      return { text: t('call.state.ringing'), state: 'ringing' };
  }
}

/**
 * The advice under the number, for its kind and the call's state.
 * @param {Call} call
 * @param {CallContext} context
 * @returns {string}
 */
export function hintText(call, context) {
  const caller = call.caller || /** @type {Partial<Caller>} */ ({});
  let hint;
  switch (caller.kind) {
    case 'mobile':
      hint = t('call.hint.mobile');
      break;
    case 'landline':
    case 'special':
    case 'freephone':
    case 'premium':
      hint = t(`call.hint.${caller.kind}`);
      break;
    case 'short':
      hint = t('call.hint.short', { display: caller.display || caller.raw || '—' });
      break;
    case 'international':
      hint = t(caller.sms_capable ? 'call.hint.international' : 'call.hint.international.no_sms');
      break;
    case 'withheld':
      hint = t('call.hint.withheld');
      break;
    default:
      hint = t('call.hint.invalid', { raw: caller.raw || '—' });
  }
  // One sentence only: once the call has left, the state hint replaces the
  // number's advice when that advice is "all set" (a mobile).
  if (caller.kind === 'mobile' && context.movedAway) {
    return t('call.hint.moved');
  }
  if (caller.kind === 'mobile' && call.state === 'ended') {
    return t('call.hint.ended');
  }
  return hint;
}

/**
 * What to put in the invitation field: the number in the form the regulator
 * reads ("06 12 34 56 78") when an SMS is the suggested channel; nothing when
 * the regulator has to ask for another number.
 * @param {Call} call
 * @returns {string}
 */
export function suggestedDestination(call) {
  const caller = call.caller || /** @type {Partial<Caller>} */ ({});
  if (!caller.e164 || call.suggested_channel === 'ask_number') {
    return '';
  }
  return editableDestination(caller.e164);
}

/** The key that launches the call card's invitation (`aria-keyshortcuts`). */
export const INVITE_KEY = 'i';

/**
 * Whether a key press is the call card's invitation key: "i" alone (no
 * modifier, not held down, not composing), outside any field, so that typing
 * never invites.
 * @param {Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'altKey' | 'metaKey' | 'shiftKey' | 'repeat' | 'isComposing'>} event
 * @param {{tagName?: string, isContentEditable?: boolean} | null} target the element with the focus
 * @returns {boolean}
 */
export function isInviteShortcut(event, target) {
  if (event.ctrlKey || event.altKey || event.metaKey || event.shiftKey || event.repeat || event.isComposing) {
    return false;
  }
  if (event.key.toLowerCase() !== INVITE_KEY) {
    return false;
  }
  if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName || ''))) {
    return false;
  }
  return true;
}

/** One card, built from `<template id="call-card-template">`. */
export class CallCard {
  /**
   * @param {HTMLTemplateElement} template
   * @param {Call | null} call null for the empty state (manual invitation)
   * @param {import('./invite.js').InvitationHandlers} handlers
   */
  constructor(template, call, handlers) {
    const fragment = /** @type {DocumentFragment} */ (template.content.cloneNode(true));
    applyTranslations(fragment);
    this.element = /** @type {HTMLElement} */ (fragment.firstElementChild);
    this.callId = call ? call.call_id : null;
    const id = `card-${(nextId += 1)}`;

    const form = /** @type {HTMLFormElement} */ (this.element.querySelector('form.invite'));
    const input = /** @type {HTMLInputElement} */ (form.querySelector('.invite-input'));
    const label = /** @type {HTMLLabelElement} */ (this.field('label'));
    input.id = `${id}-destination`;
    label.htmlFor = input.id;
    this.invitation = new InvitationForm(form, this.callId, handlers);

    if (call) {
      this.element.querySelector('[data-part="empty"]')?.remove();
      label.textContent = t('invite.label');
      const number = this.field('number');
      number.id = `${id}-number`;
      this.element.setAttribute('aria-labelledby', number.id);
      const hint = this.field('hint');
      hint.id = `${id}-hint`;
      input.setAttribute('aria-describedby', hint.id);
      const submit = this.field('submit');
      submit.setAttribute('aria-keyshortcuts', INVITE_KEY);
      submit.title = t('invite.key.title');
      const key = document.createElement('kbd');
      key.className = 'invite-key';
      // The button's name stays "Lancer l'invitation": the key is said by aria-keyshortcuts.
      key.setAttribute('aria-hidden', 'true');
      key.textContent = INVITE_KEY.toUpperCase();
      submit.append(key);
    } else {
      this.element.querySelector('[data-part="call"]')?.remove();
      this.element.querySelector('.call-head')?.remove();
      this.element.dataset.state = 'empty';
      label.textContent = t('invite.label.manual');
    }
  }

  /**
   * Show the call's latest state; the field keeps what the regulator typed.
   * @param {Call} call
   * @param {CallContext} context
   */
  update(call, context) {
    const state = stateLabel(call, context);
    const badge = kindBadge(call);
    this.element.dataset.state = state.state;
    this.field('line').textContent = t('call.line', { line: call.line });
    this.field('state').textContent = state.text;
    this.field('meta').textContent = metaText(call);
    const number = this.field('number');
    number.textContent = callerNumberText(call);
    number.dataset.kind = badge.kind;
    const kind = this.field('kind');
    kind.textContent = badge.text;
    kind.dataset.kind = badge.kind;
    // The big text already says "Numéro masqué": a badge saying it again is noise.
    kind.hidden = badge.kind === 'withheld';
    this.field('from').textContent = fromText(call, context);
    this.field('hint').textContent = hintText(call, context);
    this.invitation.prefill(suggestedDestination(call));
  }

  /**
   * A session moved: the card's line about it follows.
   * @param {import('./api.js').Session} session
   */
  followSession(session) {
    this.invitation.follow(session);
  }

  /**
   * The invitation's key was pressed: launch it when the card is a call's with a
   * destination and no visio opened from it yet.
   * @returns {boolean} whether the invitation was launched
   */
  invite() {
    if (!this.callId || this.invitation.sessionId || this.invitation.pending || !this.invitation.input.value.trim()) {
      return false;
    }
    this.invitation.submit();
    return true;
  }

  /** Put the keyboard focus in the invitation field. */
  focus() {
    this.invitation.focus();
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  field(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-field="${name}"]`));
  }
}

/**
 * @param {Call} call
 * @returns {string}
 */
function metaText(call) {
  return t('call.started', { time: formatTime(call.started_at) });
}

/**
 * "Transféré depuis PJSIP/1002" for a call transferred to this position.
 * @param {Call} call
 * @param {CallContext} context
 * @returns {string}
 */
function fromText(call, context) {
  const previous = call.previous_positions || [];
  if (!previous.length || context.movedAway) {
    return '';
  }
  return t('call.from', { position: previous[previous.length - 1] });
}
