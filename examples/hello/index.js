// The smallest Sidecar PaaS app: a Node request listener, served by the runtime.
module.exports = (req, res) => {
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`Hello from ${process.env.SIDECAR_APP} release ${process.env.SIDECAR_RELEASE}\n`);
};
