/**
 * The regulator's remote control of this phone's camera: what the camera can
 * do is reported to the service, the regulator's commands (switch camera,
 * torch, zoom) are applied and answered, and the patient sees what was done,
 * with a way to undo it. The patient's own torch and zoom controls use the
 * same paths. Capabilities are detected, never assumed.
 * @module remote
 */

/**
 * @typedef {{ min: number, max: number, step: number, value: number }} ZoomRange
 * @typedef {{ cameras: number, facing_mode: '' | 'user' | 'environment',
 *   torch: boolean | null, zoom: ZoomRange | null }} CameraState
 * @typedef {{ type: 'command', v?: number, id: string, name: string, value?: unknown }} Command
 */

/** Commands this page knows. */
export const COMMAND_NAMES = ['switch_camera', 'torch', 'zoom'];

/**
 * The camera's state from the track's capabilities and settings (either may
 * lack torch and zoom: most desktop cameras and many phones do).
 * @param {Record<string, any>} capabilities `track.getCapabilities()` (or `{}`)
 * @param {Record<string, any>} settings `track.getSettings()`
 * @param {number} cameras how many video inputs the browser lists
 * @returns {CameraState}
 */
export function describeCamera(capabilities, settings, cameras) {
  const torchCapability = capabilities.torch;
  const hasTorch =
    torchCapability === true || (Array.isArray(torchCapability) && torchCapability.includes(true));
  const range = capabilities.zoom;
  /** @type {ZoomRange | null} */
  let zoom = null;
  if (range && Number.isFinite(range.min) && Number.isFinite(range.max) && range.max > range.min) {
    const value = Number.isFinite(settings.zoom) ? settings.zoom : range.min;
    zoom = {
      min: range.min,
      max: range.max,
      step: Number.isFinite(range.step) && range.step > 0 ? range.step : 0,
      value: Math.min(range.max, Math.max(range.min, value)),
    };
  }
  const facing = settings.facingMode;
  return {
    cameras: Math.max(0, Math.min(16, Math.trunc(cameras) || 0)),
    facing_mode: facing === 'user' || facing === 'environment' ? facing : '',
    torch: hasTorch ? Boolean(settings.torch) : null,
    zoom,
  };
}

/**
 * Why a command cannot run on this camera ('' when it can).
 * @param {CameraState | null} state
 * @param {string} name
 * @param {unknown} value
 * @returns {'' | 'not_supported' | 'invalid'}
 */
export function refusal(state, name, value) {
  if (!state || !COMMAND_NAMES.includes(name)) {
    return 'not_supported';
  }
  if (name === 'torch') {
    return state.torch === null ? 'not_supported' : typeof value === 'boolean' ? '' : 'invalid';
  }
  if (name === 'zoom') {
    if (!state.zoom) {
      return 'not_supported';
    }
    return typeof value === 'number' && value >= state.zoom.min && value <= state.zoom.max
      ? ''
      : 'invalid';
  }
  return state.cameras < 2 ? 'not_supported' : '';
}

/**
 * What the patient is told, and how to undo it.
 * @param {CameraState} before
 * @param {string} name
 * @param {unknown} value
 * @returns {{ key: string, undo: { name: string, value: unknown } }}
 */
export function notice(before, name, value) {
  if (name === 'torch') {
    return {
      key: value ? 'remote-torch-on' : 'remote-torch-off',
      undo: { name: 'torch', value: Boolean(before.torch) },
    };
  }
  if (name === 'zoom') {
    return { key: 'remote-zoom', undo: { name: 'zoom', value: before.zoom ? before.zoom.value : 1 } };
  }
  return { key: 'remote-switch', undo: { name: 'switch_camera', value: null } };
}

/**
 * @typedef {object} RemoteHooks
 * @property {(message: object) => void} send to the service
 * @property {() => MediaStreamTrack | null} track the camera's current track
 * @property {() => Promise<void>} switchCamera the page's own switch
 * @property {() => Promise<number>} countCameras
 * @property {(key: string) => string} text a translated text
 */

export class RemoteCamera {
  /** @param {RemoteHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    /** @type {CameraState | null} */
    this.state = null;
    this.notice = /** @type {HTMLElement} */ (document.getElementById('remote-notice'));
    this.noticeText = /** @type {HTMLElement} */ (document.getElementById('remote-notice-text'));
    this.undoButton = /** @type {HTMLButtonElement} */ (document.getElementById('remote-undo'));
    this.torchButton = /** @type {HTMLButtonElement} */ (document.getElementById('torch'));
    this.zoomBox = /** @type {HTMLElement} */ (document.getElementById('zoom-box'));
    this.zoomInput = /** @type {HTMLInputElement} */ (document.getElementById('zoom'));
    /** @type {{ name: string, value: unknown } | null} */
    this.undo = null;
    /** Commands one at a time: a switch reopens the camera. */
    this.queue = Promise.resolve();
  }

  start() {
    this.undoButton.addEventListener('click', () => {
      const undo = this.undo;
      this.hideNotice();
      if (undo) {
        this.serially(() => this.own(undo.name, undo.value));
      }
    });
    this.torchButton.addEventListener('click', () => {
      if (this.state && this.state.torch !== null) {
        this.serially(() => this.own('torch', !this.state?.torch));
      }
    });
    this.zoomInput.addEventListener('change', () => {
      this.serially(() => this.own('zoom', Number(this.zoomInput.value)));
    });
  }

  /** The camera (re)started or changed: tell the service what it can do now. */
  async report() {
    const state = await this.read();
    if (state) {
      this.hooks.send({ type: 'camera.state', state });
    }
  }

  /**
   * A regulator's command: apply it, answer with the new state or the reason.
   * @param {Command} command
   */
  onCommand(command) {
    this.serially(async () => {
      const id = String(command.id);
      const before = this.state || (await this.read());
      const why = refusal(before, command.name, command.value);
      if (why || !before) {
        this.hooks.send({ type: 'command.result', id, ok: false, error: why || 'not_supported' });
        return;
      }
      let state;
      try {
        state = await this.apply(command.name, command.value);
      } catch (error) {
        console.warn('command failed', command.name, error);
        this.hooks.send({ type: 'command.result', id, ok: false, error: 'failed' });
        return;
      }
      this.hooks.send({ type: 'command.result', id, ok: true, state });
      const told = notice(before, command.name, command.value);
      this.showNotice(this.hooks.text(told.key), told.undo);
    });
  }

  /**
   * The patient's own control (or an undo): apply, then report.
   * @private
   * @param {string} name
   * @param {unknown} value
   */
  async own(name, value) {
    if (refusal(this.state, name, value)) {
      return;
    }
    try {
      const state = await this.apply(name, value);
      this.hooks.send({ type: 'camera.state', state });
    } catch (error) {
      console.warn('camera control failed', name, error);
      await this.report();
    }
  }

  /**
   * @private
   * @param {string} name
   * @param {unknown} value
   * @returns {Promise<CameraState>}
   */
  async apply(name, value) {
    if (name === 'switch_camera') {
      await this.hooks.switchCamera();
    } else {
      const track = this.hooks.track();
      if (!track) {
        throw new Error('no camera');
      }
      const constraint = name === 'torch' ? { torch: Boolean(value) } : { zoom: Number(value) };
      await track.applyConstraints(/** @type {MediaTrackConstraints} */ ({ advanced: [constraint] }));
    }
    const state = await this.read();
    if (!state) {
      throw new Error('no camera');
    }
    // Some browsers apply the torch without showing it in the settings: trust the applied value.
    if (name === 'torch' && state.torch !== null) {
      state.torch = Boolean(value);
    }
    this.show(state);
    return state;
  }

  /**
   * @private
   * @returns {Promise<CameraState | null>}
   */
  async read() {
    const track = this.hooks.track();
    if (!track || track.readyState === 'ended') {
      return null;
    }
    const capabilities = typeof track.getCapabilities === 'function' ? track.getCapabilities() : {};
    const state = describeCamera(capabilities, track.getSettings(), await this.hooks.countCameras());
    this.show(state);
    return state;
  }

  /**
   * The patient's own controls follow what the camera can do.
   * @private
   * @param {CameraState} state
   */
  show(state) {
    this.state = state;
    this.torchButton.hidden = state.torch === null;
    this.torchButton.setAttribute('aria-pressed', String(Boolean(state.torch)));
    this.zoomBox.hidden = !state.zoom;
    if (state.zoom) {
      this.zoomInput.min = String(state.zoom.min);
      this.zoomInput.max = String(state.zoom.max);
      this.zoomInput.step = state.zoom.step ? String(state.zoom.step) : 'any';
      this.zoomInput.value = String(state.zoom.value);
    }
  }

  /**
   * @private
   * @param {string} message
   * @param {{ name: string, value: unknown }} undo
   */
  showNotice(message, undo) {
    this.noticeText.textContent = message;
    this.undo = undo;
    this.notice.hidden = false;
  }

  /** @private */
  hideNotice() {
    this.notice.hidden = true;
    this.undo = null;
  }

  /**
   * @private
   * @param {() => Promise<void>} job
   */
  serially(job) {
    this.queue = this.queue.then(job).catch((error) => console.warn('remote control', error));
  }
}
