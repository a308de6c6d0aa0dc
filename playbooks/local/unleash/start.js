// Starts the Unleash server with API tokens required and nothing reporting home. Unleash reads
// the rest from its environment: DATABASE_URL, HTTP_HOST, HTTP_PORT, and the tokens created at
// start in INIT_ADMIN_API_TOKENS (the gate's) and INIT_BACKEND_API_TOKENS (the agents').
const unleash = require('unleash-server');

unleash.start({
  authentication: { type: 'open-source', enableApiToken: true },
  versionCheck: { enable: false },
  telemetry: false,
});
