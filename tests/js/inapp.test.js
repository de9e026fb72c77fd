// Unit tests of the in-app view detection: the user agents that apps' in-app views really send,
// and the phones' own browsers, which must never be taken for one. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { browserLink, inAppView, platform, unsupported } from '../../patient_page/static/js/inapp.js';

/** [app, platform, user agent] as the apps' in-app views send them. */
const IN_APP = [
  [
    'Facebook',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/442.0.0.37.107;FBBV/550014436;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/fr_FR;FBOP/5;FBRV/552386826]',
  ],
  [
    'Facebook',
    'android',
    'Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/442.0.0.39.118;]',
  ],
  [
    'Facebook',
    'android',
    'Mozilla/5.0 (Linux; Android 10; K; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36 [FBAN/EMA;FBLC/fr_FR;FBAV/410.0.0.12.115;]',
  ],
  [
    'Messenger',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 LightSpeed [FBAN/MessengerLiteForiOS;FBAV/428.0.0.32.111;FBBV/523516960;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/16.6;FBSS/3;FBCR/;FBID/phone;FBLC/fr_FR;FBOP/0]',
  ],
  [
    'Messenger',
    'android',
    'Mozilla/5.0 (Linux; Android 12; Pixel 6 Build/SQ3A.220705.004; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/114.0.5735.196 Mobile Safari/537.36 [FB_IAB/Orca-Android;FBAV/414.0.0.19.109;]',
  ],
  [
    'Instagram',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 305.0.0.24.109 (iPhone14,2; iOS 17_0; fr_FR; fr; scale=3.00; 1170x2532; 533431014)',
  ],
  [
    'Instagram',
    'android',
    'Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.111 Mobile Safari/537.36 Instagram 307.0.0.34.111 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B; a53x; s5e8825; fr_FR; 532277124)',
  ],
  [
    'LinkedIn',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.27.8251',
  ],
  [
    'LinkedIn',
    'android',
    'Mozilla/5.0 (Linux; Android 11; moto g(30) Build/RRIS31.Q1-42-51-12; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/109.0.5414.117 Mobile Safari/537.36 [LinkedInApp]/4.1.811',
  ],
  [
    'Snapchat',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Snapchat/12.26.0.34 (like Safari/8614.2.9.0.10, panda)',
  ],
  [
    'Snapchat',
    'android',
    'Mozilla/5.0 (Linux; Android 12; SM-A125F Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/108.0.5359.128 Mobile Safari/537.36Snapchat/12.16.0.31 (like Safari/604.1)',
  ],
  [
    'TikTok',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 musical_ly_28.4.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/fr Region/FR ByteFullLocale/fr-FR isDarkMode/0 WKWebView/1 RevealType/Dialog BytedanceWebview/d8a21c6',
  ],
  [
    'TikTok',
    'android',
    'Mozilla/5.0 (Linux; Android 12; SM-A515F Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 trill_2022903050 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/trill app_version/29.3.5 ByteLocale/fr ByteFullLocale/fr Region/FR Spark/1.3.0.3-bugfix AppVersion/29.3.5 BytedanceWebview/d8a21c6',
  ],
  [
    'X',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Twitter for iPhone/9.61',
  ],
  [
    'X',
    'android',
    'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.5845.163 Mobile Safari/537.36 TwitterAndroid',
  ],
  [
    'Line',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Safari Line/13.9.0',
  ],
  [
    'Line',
    'android',
    'Mozilla/5.0 (Linux; Android 13; SO-51C Build/61.2.C.0.119; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/114.0.5735.196 Mobile Safari/537.36 Line/13.9.1/IAB',
  ],
  [
    'WeChat',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/fr',
  ],
  [
    'WeChat',
    'android',
    'Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5235 MMWEBSDK/20230701 MMWEBID/2766 MicroMessenger/8.0.40.2420(0x28002837) WeChat/arm64 Weixin NetType/WIFI Language/fr ABI/arm64',
  ],
  [
    'Google',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/289.0.577695730 Mobile/15E148 Safari/604.1',
  ],
  [
    'Google',
    'android',
    'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.5845.163 Mobile Safari/537.36 GSA/14.35.19.29.arm64',
  ],
  // An app nobody named: Android's WebView ("; wv)"), an iOS app's own WKWebView (no Safari token).
  [
    '',
    'android',
    'Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.43 Mobile Safari/537.36',
  ],
  [
    '',
    'ios',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  ],
];

/** The phones' own browsers (and a desktop's): never an in-app view. */
const BROWSERS = {
  'Safari iPhone': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Safari iPad (desktop mode)': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  'Chrome iPhone': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1',
  'Firefox iPhone': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15',
  'Edge iPhone': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/119.0.2151.105 Mobile/15E148 Safari/605.1.15',
  'Chrome Android': 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36',
  'Samsung Internet': 'Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
  'Firefox Android': 'Mozilla/5.0 (Android 14; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0',
  'Edge Android': 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 EdgA/119.0.2151.78',
  'Opera Android': 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76322',
  'Chrome desktop': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Headless Chromium': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.33 Safari/537.36',
};

const CAMERA = { mediaDevices: { getUserMedia: () => {} } };

describe('in-app views', () => {
  for (const [app, where, agent] of IN_APP) {
    test(`${app || 'an unnamed app'} on ${where} is an in-app view`, () => {
      assert.equal(inAppView(agent), app);
      assert.equal(platform(agent), where);
      // Even when the view has the camera API: its app does not grant the camera.
      assert.deepEqual(unsupported(agent, CAMERA), { reason: 'in_app_view', app: app || null });
    });
  }

  for (const [name, agent] of Object.entries(BROWSERS)) {
    test(`${name} is a browser`, () => {
      assert.equal(inAppView(agent), null);
      assert.equal(unsupported(agent, CAMERA), null);
    });
  }

  test('a browser without the camera API says so', () => {
    const agent = BROWSERS['Chrome Android'];
    assert.deepEqual(unsupported(agent, {}), { reason: 'no_camera_api', app: null });
    assert.deepEqual(unsupported(agent, { mediaDevices: {} }), { reason: 'no_camera_api', app: null });
  });
});

describe('links to the phone browser', () => {
  const href = 'https://visio.samu.example/p/AbC-123_x?lang=fr';

  test('Android opens Chrome by an intent, the page itself when Chrome is missing', () => {
    assert.equal(
      browserLink(href, 'android'),
      'intent://visio.samu.example/p/AbC-123_x?lang=fr#Intent;scheme=https;package=com.android.chrome;' +
        'S.browser_fallback_url=https%3A%2F%2Fvisio.samu.example%2Fp%2FAbC-123_x%3Flang%3Dfr;end',
    );
  });

  test('iOS opens Safari by its scheme', () => {
    assert.equal(browserLink(href, 'ios'), 'x-safari-https://visio.samu.example/p/AbC-123_x?lang=fr');
  });

  test('elsewhere there is no such link', () => {
    assert.equal(browserLink(href, 'other'), '');
  });
});
