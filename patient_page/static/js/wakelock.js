/**
 * Keep the screen on while the video runs (the Screen Wake Lock API where it
 * exists); the browser drops the lock when the page is hidden, so it is taken
 * again when the page comes back.
 * @module wakelock
 */

/** Holds the screen awake while `active`. */
export class ScreenAwake {
  constructor() {
    this.active = false;
    /** @type {any} */
    this.sentinel = null;
    document.addEventListener('visibilitychange', () => {
      if (this.active && document.visibilityState === 'visible') {
        this.acquire();
      }
    });
  }

  /** Keep the screen on. */
  start() {
    this.active = true;
    this.acquire();
  }

  /** Let the screen sleep again. */
  stop() {
    this.active = false;
    const sentinel = this.sentinel;
    this.sentinel = null;
    if (sentinel) {
      sentinel.release().catch(() => {});
    }
  }

  /** @private */
  async acquire() {
    const wakeLock = /** @type {any} */ (navigator).wakeLock;
    if (!wakeLock || (this.sentinel && !this.sentinel.released)) {
      return;
    }
    try {
      this.sentinel = await wakeLock.request('screen');
    } catch {
      // Refused (battery saver, page hidden): the screen may dim, nothing else breaks.
    }
  }
}
