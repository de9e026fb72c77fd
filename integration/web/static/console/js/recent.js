/**
 * The "Appels récents" list: earlier calls, smaller, each one can be shown
 * again as the main card (the video may still be wanted after a call).
 * @module recent
 */

import { applyTranslations, t } from './i18n.js';
import { callerNumberText, stateLabel } from './callcard.js';

/** How many earlier calls the list shows. */
export const MAX_RECENT = 6;

/**
 * Redraw the list.
 * @param {HTMLOListElement} list
 * @param {HTMLElement} emptyText shown when there is no other call
 * @param {HTMLTemplateElement} template `<template id="recent-item-template">`
 * @param {import('./calls.js').Call[]} calls newest first
 * @param {(call: import('./calls.js').Call) => boolean} isMovedAway
 * @param {(callId: string) => void} onShow
 */
export function renderRecent(list, emptyText, template, calls, isMovedAway, onShow) {
  const items = calls.slice(0, MAX_RECENT).map((call) => {
    const fragment = /** @type {DocumentFragment} */ (template.content.cloneNode(true));
    applyTranslations(fragment);
    const item = /** @type {HTMLElement} */ (fragment.firstElementChild);
    const state = stateLabel(call, { movedAway: isMovedAway(call) });
    const number = callerNumberText(call);
    item.dataset.state = state.state;
    item.dataset.callId = call.call_id;
    setField(item, 'number', number);
    setField(item, 'line', t('call.line', { line: call.line }));
    setField(item, 'state', state.text);
    const button = /** @type {HTMLButtonElement} */ (item.querySelector('button'));
    button.title = t('recent.show');
    button.addEventListener('click', () => onShow(call.call_id));
    return item;
  });
  list.replaceChildren(...items);
  emptyText.hidden = items.length > 0;
}

/**
 * @param {HTMLElement} item
 * @param {string} name
 * @param {string} text
 */
function setField(item, name, text) {
  const element = item.querySelector(`[data-field="${name}"]`);
  if (element) {
    element.textContent = text;
  }
}
