/**
 * The remote-control bar under the patient's video: switch camera, torch,
 * zoom. It shows only what the caller's phone can do (the page reports its
 * camera's capabilities, `camera.state`), the rest greyed with the reason.
 * Each command carries an id; its `command.result` comes back on the socket,
 * or the bar says « pas de réponse du téléphone » after a bounded wait.
 * @module remote
 */

import { t } from './i18n.js';

/**
 * @typedef {{ min: number, max: number, step: number, value: number }} ZoomRange
 * @typedef {{ cameras: number, facing_mode: string, torch: boolean | null,
 *   zoom: ZoomRange | null }} CameraState
 * @typedef {{ enabled: boolean, reason: string }} Control
 * @typedef {{ switch_camera: Control, torch: Control & { on: boolean },
 *   zoom: Control & { range: ZoomRange | null } }} Controls
 * @typedef {{ id: string, name: string, ok: boolean, error_id?: string,
 *   message?: string, state?: CameraState | null }} CommandResult
 */

/** Longest wait for a command's result (the service answers by itself after 5 s). */
export const COMMAND_TIMEOUT_MS = 6000;

/**
 * Which controls the bar enables for a camera, and why the others are not
 * (a catalogue key: the page is not open, or the phone cannot).
 * @param {CameraState | null} state
 * @param {boolean} connected whether the patient's page is open
 * @returns {Controls}
 */
export function controlsFor(state, connected) {
  const absent = !connected || !state;
  const reasonIf = (/** @type {boolean} */ can) =>
    absent ? 'remote.reason.absent' : can ? '' : 'remote.reason.unavailable';
  const canSwitch = Boolean(state && state.cameras >= 2);
  const canTorch = Boolean(state && state.torch !== null && state.torch !== undefined);
  const range = state && state.zoom && state.zoom.max > state.zoom.min ? state.zoom : null;
  return {
    switch_camera: { enabled: !absent && canSwitch, reason: reasonIf(canSwitch) },
    torch: { enabled: !absent && canTorch, reason: reasonIf(canTorch), on: Boolean(state && state.torch) },
    zoom: { enabled: !absent && Boolean(range), reason: reasonIf(Boolean(range)), range },
  };
}

/**
 * Commands in flight, matched with their results by id; each one settles once,
 * with the service's result or, after `timeoutMs`, a `phone_no_answer` error.
 */
export class PendingCommands {
  /**
   * @param {number} [timeoutMs]
   * @param {{ setTimeout: (fn: () => void, ms: number) => any, clearTimeout: (id: any) => void }} [timers]
   */
  constructor(timeoutMs = COMMAND_TIMEOUT_MS, timers = globalThis) {
    this.timeoutMs = timeoutMs;
    this.timers = timers;
    /** @type {Map<string, { resolve: (result: CommandResult) => void, timer: any, name: string }>} */
    this.waiting = new Map();
    this.counter = 0;
  }

  /** A new command id, unique in this console. */
  nextId() {
    this.counter += 1;
    return `${Date.now().toString(36)}-${this.counter}`;
  }

  /**
   * Wait for the result of command `id`.
   * @param {string} id
   * @param {string} name
   * @returns {Promise<CommandResult>}
   */
  wait(id, name) {
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(() => {
        this.waiting.delete(id);
        resolve({ id, name, ok: false, error_id: 'phone_no_answer' });
      }, this.timeoutMs);
      this.waiting.set(id, { resolve, timer, name });
    });
  }

  /**
   * A `command.result` from the service; false when nothing waits for it
   * (already timed out, or another console's).
   * @param {CommandResult} result
   * @returns {boolean}
   */
  settle(result) {
    const entry = this.waiting.get(String(result.id));
    if (!entry) {
      return false;
    }
    this.waiting.delete(String(result.id));
    this.timers.clearTimeout(entry.timer);
    entry.resolve(result);
    return true;
  }

  /** Give up on every command (leaving the room). */
  clear() {
    for (const [id, entry] of this.waiting) {
      this.timers.clearTimeout(entry.timer);
      entry.resolve({ id, name: entry.name, ok: false, error_id: 'phone_no_answer' });
    }
    this.waiting.clear();
  }
}

/**
 * The timeline's line of a remote-control event; null for another event.
 * @param {{ type: string, details?: Record<string, any> }} event
 * @param {string} actor who sent the command (display name)
 * @returns {{ text: string, tone: 'normal' | 'good' | 'failed' | 'muted' } | null}
 */
export function remoteTimelineLine(event, actor) {
  const details = event.details || {};
  const name = ['switch_camera', 'torch', 'zoom', 'photo'].includes(details.name) ? details.name : 'other';
  const what = name === 'torch' ? `torch_${details.value ? 'on' : 'off'}` : name;
  const command = t(`timeline.remote.command.${what}`, { value: String(details.value ?? '') });
  switch (event.type) {
    case 'command.sent':
      return { text: t('timeline.remote.sent', { actor, command }), tone: 'normal' };
    case 'command.result':
      return details.ok
        ? { text: t('timeline.remote.done', { command }), tone: 'good' }
        : { text: t('timeline.remote.failed', { command }), tone: 'failed' };
    case 'command.refused':
      return { text: t(`timeline.remote.refused.${details.error === 'absent' ? 'absent' : 'unavailable'}`, { command }), tone: 'failed' };
    case 'command.timeout':
      return { text: t('timeline.remote.timeout', { command }), tone: 'failed' };
    case 'camera.changed':
      return { text: t('timeline.remote.changed'), tone: 'muted' };
    default:
      return null;
  }
}

/** What the bar says after a command succeeded (catalogue key). */
const DONE = {
  switch_camera: 'remote.done.switch',
  torch_on: 'remote.done.torch_on',
  torch_off: 'remote.done.torch_off',
  zoom: 'remote.done.zoom',
  photo: 'remote.done.photo',
};

/** The bar of one room. */
export class RemoteBar {
  /**
   * @param {string} sessionId
   * @param {HTMLElement} element the room's `[data-field="remote"]` block
   * @param {(message: object) => boolean} send on the console's socket
   */
  constructor(sessionId, element, send) {
    this.sessionId = sessionId;
    this.element = element;
    this.send = send;
    this.pending = new PendingCommands();
    /** @type {CameraState | null} */
    this.state = null;
    this.connected = false;
    this.busy = false;
    this.ended = false;
    this.switchButton = this.part('switch_camera');
    this.torchButton = this.part('torch');
    this.zoomBox = this.part('zoom');
    this.zoomInput = /** @type {HTMLInputElement} */ (this.part('zoom-input'));
    this.result = this.part('result');
    this.switchButton.addEventListener('click', () => this.command('switch_camera', null));
    this.torchButton.addEventListener('click', () => this.command('torch', !(this.state && this.state.torch)));
    this.zoomInput.addEventListener('change', () => this.command('zoom', Number(this.zoomInput.value)));
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  part(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-remote="${name}"]`));
  }

  /**
   * A `camera.state` or `command.result` message for this session.
   * @param {any} message
   */
  onMessage(message) {
    if (message.type === 'camera.state') {
      if (this.connected && !message.connected) {
        this.say('', 'ok'); // the last result was about a page that is gone
      }
      this.connected = Boolean(message.connected);
      this.state = message.state || null;
      if (this.connected && !this.ended) {
        this.element.hidden = false;
      }
      this.render();
    } else if (message.type === 'command.result') {
      this.pending.settle(message);
    }
  }

  /** Leaving the room. */
  stop() {
    this.pending.clear();
  }

  /** The session is over: nothing to control any more. */
  end() {
    this.ended = true;
    this.stop();
    this.element.hidden = true;
  }

  /**
   * Send one command and show its result (also returned; null when another is in flight).
   * @param {string} name
   * @param {unknown} value
   * @returns {Promise<CommandResult | null>}
   */
  async command(name, value) {
    if (this.busy) {
      return null;
    }
    const id = this.pending.nextId();
    const waiting = this.pending.wait(id, name);
    if (!this.send({ type: 'command', v: 1, id, session_id: this.sessionId, name, value })) {
      this.pending.settle({ id, name, ok: false, error_id: 'phone_absent', message: t('error.phone_absent') });
    }
    this.busy = true;
    this.render();
    this.say(t('remote.sending'), 'wait');
    const result = await waiting;
    this.busy = false;
    if (result.ok) {
      if (result.state) {
        this.state = result.state;
      }
      const key =
        name === 'torch'
          ? value
            ? DONE.torch_on
            : DONE.torch_off
          : name === 'zoom'
            ? DONE.zoom
            : name === 'photo'
              ? DONE.photo
              : DONE.switch_camera;
      this.say(t(key, { value: String(value) }), 'ok');
    } else {
      const text = result.message || t(`error.${result.error_id || 'phone_no_answer'}`);
      this.say(text, 'error');
    }
    this.render();
    return result;
  }

  /**
   * @private
   * @param {string} text
   * @param {'wait' | 'ok' | 'error'} tone
   */
  say(text, tone) {
    this.result.textContent = text;
    this.result.dataset.tone = tone;
  }

  /** @private Enable what the phone can do; grey the rest with the reason. */
  render() {
    const controls = controlsFor(this.state, this.connected);
    this.setControl(this.switchButton, controls.switch_camera);
    this.setControl(this.torchButton, controls.torch);
    this.torchButton.setAttribute('aria-pressed', String(controls.torch.on));
    this.setControl(this.zoomBox, controls.zoom);
    this.zoomInput.disabled = !controls.zoom.enabled || this.busy;
    const range = controls.zoom.range;
    if (range) {
      this.zoomInput.min = String(range.min);
      this.zoomInput.max = String(range.max);
      this.zoomInput.step = range.step ? String(range.step) : 'any';
      this.zoomInput.value = String(range.value);
    }
  }

  /**
   * @private
   * @param {HTMLElement} element
   * @param {Control} control
   */
  setControl(element, control) {
    if (element instanceof HTMLButtonElement) {
      element.disabled = !control.enabled || this.busy;
    }
    element.dataset.available = String(control.enabled);
    const reason = /** @type {HTMLElement} */ (element.querySelector('.remote-reason'));
    reason.textContent = control.reason ? t(control.reason) : '';
    reason.hidden = !control.reason;
    if (control.reason) {
      element.setAttribute('title', t(control.reason));
    } else {
      element.removeAttribute('title');
    }
  }
}
