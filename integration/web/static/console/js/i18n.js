/**
 * Message catalogue: loads the flat key → string JSON served at
 * `/console/locales/<lang>.json` and fills `{name}` placeholders.
 *
 * The HTML carries French text as a fallback, so a page stays usable when the
 * catalogue cannot be loaded; `applyTranslations` then replaces it.
 * @module i18n
 */

/** Language used when the page does not declare one. */
export const DEFAULT_LANG = 'fr';

/** @type {Record<string, string>} */
let messages = {};
let language = DEFAULT_LANG;
/** Keys already reported missing, so the browser console is not flooded. */
const reported = new Set();

/**
 * The page language, from `<html lang>` (the server writes it).
 * @returns {string}
 */
export function pageLanguage() {
  const lang = (document.documentElement.lang || DEFAULT_LANG).trim().toLowerCase();
  return lang.split('-')[0] || DEFAULT_LANG;
}

/**
 * The language of the loaded catalogue (for `Intl` formatting).
 * @returns {string}
 */
export function currentLanguage() {
  return language;
}

/**
 * Load the catalogue for `lang`, falling back to French.
 * Never throws: on failure the HTML fallback text stays in place.
 * @param {string} [lang]
 * @returns {Promise<boolean>} true when a catalogue was loaded
 */
export async function loadCatalogue(lang = pageLanguage()) {
  const candidates = lang === DEFAULT_LANG ? [lang] : [lang, DEFAULT_LANG];
  for (const candidate of candidates) {
    try {
      const response = await fetch(`/console/locales/${encodeURIComponent(candidate)}.json`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
      if (!response.ok) {
        continue;
      }
      const data = await response.json();
      if (data && typeof data === 'object') {
        messages = data;
        language = candidate;
        return true;
      }
    } catch (error) {
      console.warn(`Catalogue ${candidate} could not be loaded`, error);
    }
  }
  return false;
}

/**
 * Whether the catalogue has `key`.
 * @param {string} key
 * @returns {boolean}
 */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(messages, key);
}

/**
 * Translate `key`, replacing `{name}` placeholders with `params[name]`.
 * A missing key yields `fallback` when given, else the key itself.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @param {string} [fallback]
 * @returns {string}
 */
export function t(key, params = {}, fallback) {
  let text = messages[key];
  if (typeof text !== 'string') {
    if (!reported.has(key)) {
      reported.add(key);
      console.warn(`Missing message: ${key}`);
    }
    text = fallback ?? key;
  }
  return text.replace(/\{(\w+)\}/g, (match, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : match,
  );
}

/** Attributes that can be translated with `data-i18n-<attribute>`. */
const ATTRIBUTES = ['placeholder', 'title', 'aria-label'];

/**
 * Replace the text of every `[data-i18n]` element under `root`, and the
 * attributes named by `data-i18n-placeholder`, `data-i18n-title` and
 * `data-i18n-aria-label`. Keys missing from the catalogue keep the HTML text.
 * @param {ParentNode} [root]
 */
export function applyTranslations(root = document) {
  for (const element of root.querySelectorAll('[data-i18n]')) {
    const key = element.getAttribute('data-i18n');
    if (key && has(key)) {
      element.textContent = t(key);
    }
  }
  for (const attribute of ATTRIBUTES) {
    for (const element of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      const key = element.getAttribute(`data-i18n-${attribute}`);
      if (key && has(key)) {
        element.setAttribute(attribute, t(key));
      }
    }
  }
}

/**
 * The centre's time zone: every time and date on the console is the centre's
 * (a regulator's workstation may be set to another zone, or to UTC).
 * Undefined until the server has said it: the browser's zone then.
 * @type {string | undefined}
 */
let timeZone;

/** @type {Intl.DateTimeFormat | null} */
let cachedFormat = null;
let cachedFormatLanguage = '';

/** @type {Intl.DateTimeFormat | null} */
let cachedDateFormat = null;
let cachedDateFormatLanguage = '';

/**
 * Show times and dates in `zone` (an IANA name such as `Indian/Reunion`).
 * An unknown or missing zone keeps the current one.
 * @param {string | null | undefined} zone
 */
export function setTimeZone(zone) {
  if (!zone || zone === timeZone) {
    return;
  }
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
  } catch (error) {
    console.warn(`Unknown time zone ${zone}`, error);
    return;
  }
  timeZone = zone;
  cachedFormat = null;
  cachedDateFormat = null;
}

/**
 * The centre's time zone, as set by `setTimeZone` (undefined: the browser's).
 * @returns {string | undefined}
 */
export function currentTimeZone() {
  return timeZone;
}

/**
 * Format a timestamp as `HH:MM:SS` in the centre's time zone and the page language.
 * @param {string | null | undefined} iso ISO 8601 timestamp
 * @returns {string} empty when `iso` is missing or invalid
 */
export function formatTime(iso) {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return '';
  }
  return timeFormat().format(date);
}

function timeFormat() {
  if (!cachedFormat || cachedFormatLanguage !== language) {
    cachedFormat = new Intl.DateTimeFormat(language, {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZone,
    });
    cachedFormatLanguage = language;
  }
  return cachedFormat;
}

/**
 * Format a timestamp as a date in the centre's time zone (`12/03/2025` in French).
 * @param {string | null | undefined} iso ISO 8601 timestamp
 * @returns {string} empty when `iso` is missing or invalid
 */
export function formatDate(iso) {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return '';
  }
  if (!cachedDateFormat || cachedDateFormatLanguage !== language) {
    cachedDateFormat = new Intl.DateTimeFormat(language, {
      day: '2-digit',
      month: '2-digit',
      year: 'numeric',
      timeZone,
    });
    cachedDateFormatLanguage = language;
  }
  return cachedDateFormat.format(date);
}

/**
 * The wall-clock reading of `date` in `zone`, as if that reading were UTC.
 * @param {Date} date
 * @param {string | undefined} zone
 * @returns {number} milliseconds
 */
function wallClock(date, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(date);
  /** @type {Record<string, number>} */
  const value = {};
  for (const part of parts) {
    value[part.type] = Number(part.value);
  }
  return Date.UTC(value.year, value.month - 1, value.day, value.hour, value.minute, value.second);
}

/**
 * Midnight at the start of the day `daysAgo` days before today, in the
 * centre's time zone ("today" is the centre's day, not the workstation's).
 * @param {number} daysAgo 0 for today
 * @param {Date} [now]
 * @returns {Date}
 */
export function startOfDay(daysAgo, now = new Date()) {
  const today = new Date(wallClock(now, timeZone));
  const midnight = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - daysAgo);
  // The zone's offset at that midnight (read twice: a DST change may fall in between).
  let instant = midnight - (wallClock(new Date(midnight), timeZone) - midnight);
  instant = midnight - (wallClock(new Date(instant), timeZone) - instant);
  return new Date(instant);
}
