// inkgate's one page script, served after @simplewebauthn/browser in the same file
// (/account/passkeys.js): every button with data-passkey runs a WebAuthn ceremony and posts its
// form. The options come from data-options (same origin, with the page's form token).
(() => {
  const webauthn = globalThis.SimpleWebAuthnBrowser;
  const status = document.getElementById('passkey-status');
  const post = async (url, body) => {
    const answer = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!answer.ok) throw new Error(`the server answered ${answer.status}`);
    return answer.json();
  };
  for (const button of document.querySelectorAll('button[data-passkey]')) {
    if (!webauthn?.browserSupportsWebAuthn()) {
      button.hidden = true;
      continue;
    }
    button.hidden = false;
    button.addEventListener('click', async () => {
      const form = document.getElementById(button.dataset.form);
      try {
        const optionsJSON = await post(button.dataset.options, { csrf: button.dataset.csrf });
        const response =
          button.dataset.passkey === 'register'
            ? await webauthn.startRegistration({ optionsJSON })
            : await webauthn.startAuthentication({ optionsJSON });
        form.elements.response.value = JSON.stringify(response);
        form.submit();
      } catch (error) {
        if (status) status.textContent = `The passkey did not work: ${error.message}`;
      }
    });
  }
})();
