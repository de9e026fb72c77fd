/**
 * The phone's camera: video only (never the microphone), the rear camera
 * first; why it failed, and which browser's instructions to show.
 * @module camera
 */

/** @typedef {'environment' | 'user'} Facing */

/**
 * Open the camera facing `facing` (a preference: a phone with one camera
 * gives that one), or exactly the camera `deviceId` when given.
 * @param {Facing} facing
 * @param {string} [deviceId]
 * @returns {Promise<MediaStream>}
 */
export async function openCamera(facing, deviceId) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const error = new Error('no mediaDevices (not a secure context, or an old browser)');
    error.name = 'NotSupportedError';
    throw error;
  }
  return navigator.mediaDevices.getUserMedia({
    video: {
      ...(deviceId ? { deviceId: { exact: deviceId } } : { facingMode: { ideal: facing } }),
      width: { ideal: 1280 },
      height: { ideal: 720 },
      frameRate: { ideal: 30, max: 30 },
    },
    audio: false,
  });
}

/**
 * Whether the browser already holds the camera permission for this site, so
 * that the camera may be opened again without a tap (after a reload).
 * Browsers that cannot tell (Firefox) answer no: the patient taps again.
 * @returns {Promise<boolean>}
 */
export async function cameraGranted() {
  try {
    const status = await navigator.permissions.query({ name: /** @type {PermissionName} */ ('camera') });
    return status.state === 'granted';
  } catch {
    return false;
  }
}

/**
 * The camera after `current` in the browser's list, for cameras that do not
 * say which way they face (desktop webcams): switching by facing would open
 * the same one again. Empty when the track says its facing, or there is no other.
 * @param {MediaStreamTrack | undefined} track
 * @returns {Promise<string>}
 */
export async function nextCameraId(track) {
  const settings = track ? track.getSettings() : {};
  if (settings.facingMode) {
    return '';
  }
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const ids = devices.filter((device) => device.kind === 'videoinput').map((device) => device.deviceId);
    if (ids.length < 2) {
      return '';
    }
    return ids[(ids.indexOf(settings.deviceId || '') + 1) % ids.length];
  } catch {
    return '';
  }
}

/**
 * How many cameras the phone has (known once the camera is allowed).
 * @returns {Promise<number>}
 */
export async function countCameras() {
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    return devices.filter((device) => device.kind === 'videoinput').length;
  } catch {
    return 0;
  }
}

/**
 * Whether the camera was refused (by the user or a setting) or is missing/busy.
 * @param {unknown} error
 * @returns {'denied' | 'unavailable'}
 */
export function failureKind(error) {
  const name = error instanceof Error || error instanceof DOMException ? error.name : '';
  return name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError'
    ? 'denied'
    : 'unavailable';
}

/**
 * The error's name, for the regulator's timeline.
 * @param {unknown} error
 * @returns {string}
 */
export function failureDetail(error) {
  const name = error instanceof Error || error instanceof DOMException ? error.name : 'Error';
  return `${name} (${browserFamily(navigator.userAgent)})`.slice(0, 200);
}

/**
 * Which browser's instructions apply, from the user agent.
 * @param {string} userAgent
 * @returns {'ios' | 'samsung' | 'firefox' | 'chrome' | 'other'}
 */
export function browserFamily(userAgent) {
  // Every browser on an iPhone uses Safari's engine and Safari's settings.
  if (/iPhone|iPad|iPod/.test(userAgent) || (/Macintosh/.test(userAgent) && navigator.maxTouchPoints > 1)) {
    return 'ios';
  }
  if (/SamsungBrowser/.test(userAgent)) {
    return 'samsung';
  }
  if (/Firefox\//.test(userAgent)) {
    return 'firefox';
  }
  if (/Chrome\//.test(userAgent)) {
    return 'chrome';
  }
  return 'other';
}
