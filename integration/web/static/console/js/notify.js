/**
 * Telling the regulator when the console is out of sight (a side window, an
 * iframe in the CAD screen): for each kind of step of a session (the link
 * opened, the video live or lost, a text from the patient), a short beep, a
 * browser notification, and the tab's title ("(1) Vidéo reçue — VisioRegul")
 * until the tab is seen again. Each kind can be turned off (kept in
 * localStorage); notifications ask the browser's permission on a click on the
 * header's "Alertes" button.
 * @module notify
 */

import { t } from './i18n.js';

/**
 * @typedef {object} AlertKind
 * @property {string} kind the setting's key (and the catalogue's `notify.kind.<kind>`, `notify.title.<kind>`)
 * @property {(event: {type: string, details?: any}) => boolean} matches whether a session event is this kind
 */

/**
 * The kinds of steps that alert, in the order the settings list them. Other
 * features add their line (a photo, a document from the patient...).
 * @type {AlertKind[]}
 */
export const ALERT_KINDS = [
  { kind: 'link_opened', matches: (event) => event.type === 'link.opened' && (event.details || {}).role !== 'third_party' },
  { kind: 'video_live', matches: (event) => event.type === 'video.live' },
  { kind: 'video_lost', matches: (event) => event.type === 'video.lost' },
  { kind: 'text_received', matches: (event) => event.type === 'text.received' },
  {
    kind: 'document_received',
    matches: (event) => event.type === 'document.received' || event.type === 'photo.taken',
  },
];

/** localStorage key of the kinds turned off. */
export const STORAGE_KEY = 'visioregul.alerts.off';

/**
 * The kind of alert a session event gives, or null when it gives none (or it is turned off).
 * @param {{type: string, details?: any}} event
 * @param {Set<string>} off the kinds turned off
 * @returns {string | null}
 */
export function alertKindOf(event, off) {
  const found = ALERT_KINDS.find((entry) => entry.matches(event));
  return found && !off.has(found.kind) ? found.kind : null;
}

/**
 * The tab's title while alerts wait to be seen: "(2) Vidéo reçue — VisioRegul".
 * @param {string} title the page's own title
 * @param {number} unseen alerts since the tab was last seen
 * @param {string} label what the last one said
 * @returns {string}
 */
export function alertTitle(title, unseen, label) {
  if (unseen <= 0) {
    return title;
  }
  const app = title.includes('VisioRegul') ? 'VisioRegul' : title;
  return `(${unseen}) ${label} — ${app}`;
}

/**
 * The kinds turned off, as stored.
 * @param {string | null} stored
 * @returns {Set<string>}
 */
export function parseOff(stored) {
  try {
    const list = JSON.parse(stored || '[]');
    return new Set(Array.isArray(list) ? list.filter((item) => typeof item === 'string') : []);
  } catch {
    return new Set();
  }
}

/** A short two-tone beep, generated (no audio file). */
function beep() {
  const Context = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
  if (!Context) {
    return;
  }
  try {
    const context = new Context();
    const gain = context.createGain();
    gain.gain.value = 0.08;
    gain.connect(context.destination);
    [880, 1320].forEach((frequency, index) => {
      const oscillator = context.createOscillator();
      oscillator.frequency.value = frequency;
      oscillator.connect(gain);
      const start = context.currentTime + index * 0.15;
      oscillator.start(start);
      oscillator.stop(start + 0.12);
    });
    window.setTimeout(() => context.close(), 600);
  } catch {
    // No sound device: the title and the notification still say it.
  }
}

/** The header's alerts: settings, permission, sound, notification and title. */
export class Alerts {
  /**
   * @param {HTMLElement} root the header's alerts block (`#alerts`)
   * @param {() => void} retitle sets the page's own title again (then {@link decorate} is applied)
   */
  constructor(root, retitle) {
    this.root = root;
    this.retitle = retitle;
    this.unseen = 0;
    this.label = '';
    this.off = parseOff(window.localStorage.getItem(STORAGE_KEY));
    this.toggle = /** @type {HTMLButtonElement} */ (root.querySelector('[data-field="alerts-toggle"]'));
    this.panel = /** @type {HTMLElement} */ (root.querySelector('[data-field="alerts-panel"]'));
    this.list = /** @type {HTMLElement} */ (root.querySelector('[data-field="alerts-kinds"]'));
    this.denied = /** @type {HTMLElement} */ (root.querySelector('[data-field="alerts-denied"]'));
    this.toggle.addEventListener('click', () => this.onToggle());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        this.seen();
      }
    });
    window.addEventListener('focus', () => this.seen());
    this.render();
  }

  /** Redraw the settings (after a language switch too). */
  render() {
    this.list.replaceChildren(
      ...ALERT_KINDS.map(({ kind }) => {
        const label = document.createElement('label');
        label.className = 'alerts-kind';
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.checked = !this.off.has(kind);
        box.dataset.kind = kind;
        box.addEventListener('change', () => this.setKind(kind, box.checked));
        const text = document.createElement('span');
        text.textContent = t(`notify.kind.${kind}`);
        label.append(box, text);
        return label;
      }),
    );
    this.denied.hidden = !('Notification' in window) || Notification.permission !== 'denied';
  }

  /** @private */
  onToggle() {
    const open = this.panel.hidden;
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    // Asked on this click: browsers refuse a permission prompt without a gesture.
    if (open && 'Notification' in window && Notification.permission === 'default') {
      Notification.requestPermission().then(() => this.render(), () => this.render());
    }
  }

  /**
   * @private
   * @param {string} kind
   * @param {boolean} on
   */
  setKind(kind, on) {
    if (on) {
      this.off.delete(kind);
    } else {
      this.off.add(kind);
    }
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify([...this.off]));
  }

  /**
   * A session event arrived: alert when it is a kind the regulator keeps on.
   * @param {{type: string, details?: any}} event
   * @param {string} destination who the session is with, for the notification's text
   */
  onEvent(event, destination) {
    const kind = alertKindOf(event, this.off);
    if (!kind) {
      return;
    }
    const label = t(`notify.title.${kind}`);
    beep();
    if ('Notification' in window && Notification.permission === 'granted') {
      const body = event.type === 'text.received' ? String((event.details || {}).text || '') : destination;
      try {
        const notification = new Notification(label, { body, tag: `visioregul-${kind}` });
        notification.addEventListener('click', () => window.focus());
      } catch {
        // Some browsers allow notifications from a service worker only: the title still says it.
      }
    }
    if (document.visibilityState !== 'visible' || !document.hasFocus()) {
      this.unseen += 1;
      this.label = label;
      this.retitle();
    }
  }

  /**
   * The page's title with the alerts not seen yet.
   * @param {string} title
   * @returns {string}
   */
  decorate(title) {
    return alertTitle(title, this.unseen, this.label);
  }

  /** @private */
  seen() {
    if (this.unseen > 0) {
      this.unseen = 0;
      this.retitle();
    }
  }
}
