// A real OpenID provider for the tests, configured like Pro Santé Connect: the certified
// `oidc-provider` package, a Keycloak-like realm asking for `acr_values=eidas1` and the scopes
// `openid scope_all`, the practitioner's national identifier in the userinfo's `SubjectNameID`,
// userinfo signed (JWT) or plain JSON per client, PKCE required, RP-initiated and back-channel
// logout.
//
//   node tests/oidc/provider.mjs   (settings in the environment, see below)
//
// Environment: OIDC_PORT (listen on 127.0.0.1), OIDC_ISSUER (e.g. http://localhost:PORT),
// OIDC_CLIENTS (JSON: a list of oidc-provider client metadata). It prints one line
// `listening <issuer>` when ready. The login page is scripted: a card number (the national
// identifier) and any code; `sub` is an opaque id derived from it, as PSC's is.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { Buffer } from 'node:buffer';
import http from 'node:http';
import process from 'node:process';
import { URL, URLSearchParams } from 'node:url';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'psc-test-1', use: 'sig', alg: 'RS256' };

/** @param {string} nationalId */
function subjectOf(nationalId) {
  return `psc-${createHash('sha256').update(nationalId).digest('hex').slice(0, 24)}`;
}

/** The practitioners the realm knows: sub -> national identifier and names. */
const practitioners = new Map();

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title, body) => `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<title>${escape(title)}</title><style>
body{font-family:sans-serif;background:#eef3f8;margin:0}main{max-width:420px;margin:60px auto;background:#fff;padding:24px 32px;border-radius:8px;box-shadow:0 1px 4px #0003}
h1{font-size:1.3em;color:#00426b}label{display:block;margin:12px 0 4px}input{width:100%;padding:8px;box-sizing:border-box}
button{margin-top:16px;width:100%;padding:10px;background:#00426b;color:#fff;border:0;border-radius:4px;font-size:1em}
</style></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['visioregul-test-oidc-cookie-key'] },
  scopes: ['openid', 'scope_all'],
  claims: {
    openid: ['sub'],
    scope_all: ['SubjectNameID', 'SubjectRefPro', 'given_name', 'family_name', 'preferred_username'],
  },
  acrValues: ['eidas1'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page(
          'Déconnexion de Pro Santé Connect (test)',
          `${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Se déconnecter</button>`,
        );
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Déconnecté de Pro Santé Connect (test)', '<p>Vous êtes déconnecté.</p>');
      },
    },
    jwtUserinfo: { enabled: true },
    userinfo: { enabled: true },
  },
  // Consent is implicit in PSC for a registered service: grant what was asked.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid scope_all');
    await grant.save();
    return grant;
  },
  findAccount: async (ctx, sub) => {
    const who = practitioners.get(sub);
    if (!who) return undefined;
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        SubjectNameID: who.nationalId,
        SubjectRefPro: { exercices: [{ codeProfession: '10' }] },
        given_name: who.givenName,
        family_name: who.familyName,
        preferred_username: who.nationalId,
      }),
    };
  },
  // The console under test listens on the loopback, which the provider's SSRF guard refuses
  // for back-channel logouts: the test realm reaches it with a plain fetch.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600 },
});
provider.proxy = false;
for (const event of ['backchannel.error', 'backchannel.success', 'end_session.error', 'server_error']) {
  provider.on(event, (ctx, error, client) => {
    process.stderr.write(`${event}: ${error?.message ?? ''} ${error?.cause?.message ?? ''} ${client?.clientId ?? ''}\n`);
  });
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The scripted login: a card number and its code; acr eidas1 as a CPS card gives. */
async function interaction(req, res) {
  const url = new URL(req.url, issuer);
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'POST' && url.pathname.endsWith('/login')) {
    const form = await formBody(req);
    const nationalId = (form.get('card') || '').trim();
    const sub = subjectOf(nationalId);
    practitioners.set(sub, {
      nationalId,
      givenName: form.get('given_name') || 'Camille',
      familyName: form.get('family_name') || 'Martin',
    });
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: sub, acr: 'eidas1', amr: ['mfa'] } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  if (details.prompt.name === 'login') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page('Pro Santé Connect (test)', `
<form method="post" action="/interaction/${escape(details.uid)}/login">
<label for="card">Numéro de carte (identifiant national)</label>
<input id="card" name="card" autocomplete="off" required autofocus>
<label for="code">Code porteur</label>
<input id="code" name="code" type="password" required>
<button type="submit">Valider</button></form>`));
    return;
  }
  // Consent: granted by loadExistingGrant; finish the interaction.
  await provider.interactionFinished(req, res, { consent: {} }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      res.statusCode = 400;
      res.end(`interaction failed: ${error.message}`);
    });
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
