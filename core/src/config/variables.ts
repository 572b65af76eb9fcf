import { z } from 'zod';
import { parseCpu, parseMemory } from '../app.js';
import { DEFAULT_BUNDLE_LIMITS, DEFAULT_NPM_REGISTRY } from '../bundle-rules.js';
import { DEFAULT_PRIVATE_CIDRS } from '../k8s-network-policies.js';
import { DEFAULT_TENANT_LIMITS } from '../limits.js';
import { LOG_SHIPPER } from '../platform-sidecars.js';

/**
 * Every `SIDECAR_*` variable a platform process reads, with its default and meaning: the one schema.
 * Each process parses the variables it reads (processes.ts) once at start; docs/configuration.md is
 * generated from the descriptions here (config-doc.ts), and a test fails when it is out of date.
 */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const ms = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const image = () => z.string().min(1).optional();
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_KEY = new RegExp(`^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?${LABEL_NAME}$`);
const LABEL_VALUE = new RegExp(`^(${LABEL_NAME})?$`);
/** `key=value,key=value` (a label selector of equalities, as `kubectl -l` takes it) → matchLabels. */
const labelSelector = () =>
  z
    .string()
    .refine(
      (v) =>
        v.split(',').every((term) => {
          const [key, value, ...rest] = term.trim().split('=');
          return rest.length === 0 && LABEL_KEY.test(key ?? '') && value !== undefined && LABEL_VALUE.test(value);
        }),
      'labels as key=value,key=value',
    )
    .transform((v) => Object.fromEntries(v.split(',').map((term) => term.trim().split('=') as [string, string])));
const CIDR =
  /^((\d{1,3}\.){3}\d{1,3}\/([0-9]|[12][0-9]|3[0-2])|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$/;
/** A Kubernetes quantity `parse` accepts. */
const quantity = (parse: (q: string) => number, fallback: string, example: string) =>
  z
    .string()
    .refine((q) => {
      try {
        return parse(q) > 0;
      } catch {
        return false;
      }
    }, `a Kubernetes quantity such as ${example}`)
    .default(fallback);
const L = DEFAULT_TENANT_LIMITS;

export const PlatformEnv = z.object({
  // ---- where things are -------------------------------------------------------------------------
  SIDECAR_DATA_DIR: z
    .string()
    .min(1)
    .describe(
      'Redis AOF, bundles (content-addressed), build scratch, admin token, `supervisor.json` (the launcher children). The launcher defaults it to `./.sidecar` of the checkout and passes it on.',
    ),
  SIDECAR_REDIS_URL: z
    .string()
    .url()
    .describe('The Redis all processes share. The launcher starts an embedded redis-server when it is unset.'),
  SIDECAR_REDIS_PREFIX: z
    .string()
    .default('sidecar:')
    .describe('Key prefix, to share one Redis between platforms (and tests).'),
  SIDECAR_REDIS_MAX_MEMORY: z
    .string()
    .regex(/^\d+(kb|mb|gb)?$/i, 'a size Redis understands, e.g. 512mb or 2gb')
    .default('1gb')
    .describe(
      "The embedded Redis's memory limit (`maxmemory`), with `noeviction`: at the limit writes fail loudly (API: 503 `store_unavailable`) and nothing is ever evicted silently.",
    ),
  SIDECAR_EMBEDDED_REDIS_PORT: z.coerce
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('The embedded Redis port (127.0.0.1 only); a free port when unset.'),
  SIDECAR_PLATFORM_ID: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/)
    .default('default')
    .describe(
      'Labels every Docker object (and Kubernetes object) this platform creates; a platform adopts and removes only its own.',
    ),
  SIDECAR_DOCKER_SOCKET: z
    .string()
    .default('/var/run/docker.sock')
    .describe(
      'The Docker engine the worker (and `sidecar pod`) talks to, unless `SIDECAR_DOCKER_HOST` names one over TCP.',
    ),
  SIDECAR_DOCKER_HOST: z
    .string()
    .regex(/^tcp:\/\/[a-zA-Z0-9.-]+:\d{1,5}$/, 'tcp://host:port')
    .optional()
    .describe(
      "The worker's Docker engine over TCP, e.g. the Kubernetes builder `tcp://builder.sidecar-system.svc.cluster.local:2376`; always with mutual TLS (`SIDECAR_DOCKER_TLS_DIR`). Unset: `SIDECAR_DOCKER_SOCKET`.",
    ),
  SIDECAR_DOCKER_TLS_DIR: z
    .string()
    .min(1)
    .optional()
    .describe(
      "With `SIDECAR_DOCKER_HOST`: a folder with `ca.pem` (the engine's CA: only an engine with a certificate it signed is trusted), `cert.pem` and `key.pem` (the worker's client certificate), as Docker's `DOCKER_CERT_PATH`.",
    ),

  // ---- logs ------------------------------------------------------------------------------------------
  SIDECAR_LOG_FORMAT: z
    .enum(['json', 'pretty'])
    .optional()
    .describe(
      'How platform processes log: one JSON object per line, or readable lines. Default: readable on a terminal, JSON otherwise (the launcher shows its children readable when it runs on a terminal).',
    ),
  SIDECAR_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
    .default('info')
    .describe('The least severe level platform processes log.'),

  // ---- the edge -----------------------------------------------------------------------------------
  SIDECAR_API_HOST: z.string().default('127.0.0.1').describe('The address the API binds.'),
  SIDECAR_API_PORT: port(3000).describe('The API and dashboard port.'),
  SIDECAR_ROUTER_HOST: z.string().default('127.0.0.1').describe('The address the router binds.'),
  SIDECAR_ROUTER_PORT: port(8080).describe('The router HTTP port: apps at `http://<app>.<domain>:<port>/`.'),
  SIDECAR_ROUTER_TLS_PORT: port(8443).describe(
    'The router HTTPS port: TLS passed through by SNI to apps with the `tls` sidecar (docs/sidecars.md).',
  ),
  SIDECAR_HAPROXY_BIN: z
    .string()
    .min(1)
    .default('haproxy')
    .describe("The router's data plane: HAProxy 2.6 or later, from the distribution (docs/router.md)."),
  SIDECAR_ROUTER_THREADS: z.coerce
    .number()
    .int()
    .min(0)
    .max(64)
    .default(0)
    .describe("HAProxy's threads; 0: half the machine's cores, at least 1 (the apps need the others; docs/router.md)."),
  SIDECAR_ROUTER_MAX_CONNECTIONS: positiveInt(8000).describe(
    'Client connections the router holds at once, all apps together; HAProxy needs about 2.3 file descriptors each.',
  ),
  SIDECAR_ROUTER_HEADER_TIMEOUT_MS: positiveInt(10_000).describe(
    'How long a client may take to send its request headers (then 408 and the connection is closed).',
  ),
  SIDECAR_ROUTER_IDLE_TIMEOUT_MS: positiveInt(60_000).describe(
    'An idle keep-alive client connection, or a client that stops sending or reading mid-request, is closed after this.',
  ),
  SIDECAR_ROUTER_CONNECT_TIMEOUT_MS: positiveInt(5_000).describe('Connecting to a pod; then another pod is tried.'),
  SIDECAR_ROUTER_RELOAD_GRACE_SECONDS: positiveInt(3600).describe(
    "After HAProxy reloads (any app created or deleted, or its settings changed), the previous worker keeps the connections it holds (WebSockets, long responses) at most this long (at least the longest app's drainSeconds + 5).",
  ),
  SIDECAR_ROUTER_OLD_WORKERS_MAX: positiveInt(10).describe(
    'Previous HAProxy workers kept at once for their connections (about 5 MiB each); past this many reloads the oldest is stopped and its connections closed.',
  ),
  SIDECAR_ROUTER_TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[0-9a-fA-F.:]+(\/\d{1,3})?$/, 'an IP address or CIDR')))
    .describe(
      'Comma-separated addresses or CIDRs (e.g. a load balancer in front) whose X-Forwarded-* and Forwarded values the router keeps.',
    ),
  SIDECAR_ROUTER_METRICS_PORT: port(0).describe(
    "The router's Prometheus metrics on loopback, admin token required (0: a free port, logged at start).",
  ),
  SIDECAR_ROUTER_REQUEST_LOG: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      'HAProxy reports every request to the router (access log, per-app request metrics); `off` trades both for throughput.',
    ),
  SIDECAR_ROUTER_ACCESS_LOG: z
    .enum(['file', 'stdout', 'off'])
    .default('file')
    .describe(
      "Where the router keeps the access log besides the apps' logs: `<data dir>/router/access.log` (`file`), its own output (`stdout`, through the launcher: costs throughput), or nowhere else (`off`).",
    ),
  SIDECAR_ROUTER_ACCESS_LOG_MAX_MIB: positiveInt(100).describe(
    'Past this size the access log file becomes `access.log.1` (replacing the older one) and a new one is begun.',
  ),
  SIDECAR_APPS_DOMAIN: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i)
    .default('localhost')
    .describe(
      'Apps are served at `<app>.<domain>`; also the name the platform CA puts in the certificates of TLS sidecars.',
    ),
  SIDECAR_WEB_DIST: z
    .string()
    .min(1)
    .optional()
    .describe('The built dashboard the API serves at `/` (default: `web/dist` of this checkout).'),

  // ---- credentials --------------------------------------------------------------------------------
  SIDECAR_ADMIN_TOKEN: z
    .string()
    .min(16, 'SIDECAR_ADMIN_TOKEN must be at least 16 characters')
    .describe('The admin bearer token. The launcher generates one into `<data dir>/admin-token` (0600) when unset.'),
  SIDECAR_SECRETS_KEYS: z
    .string()
    .optional()
    .describe(
      'AES-256-GCM keys for app secrets at rest, `id:base64key,...`; the first seals. Default: `<data dir>/secrets.keys` (0600, created on first start).',
    ),

  // ---- builds ---------------------------------------------------------------------------------------
  SIDECAR_MAX_BUNDLE_BYTES: positiveInt(DEFAULT_BUNDLE_LIMITS.maxCompressedBytes).describe(
    'The largest bundle upload (compressed).',
  ),
  SIDECAR_MAX_UNPACKED_BYTES: positiveInt(DEFAULT_BUNDLE_LIMITS.maxUnpackedBytes).describe(
    'The largest bundle once unpacked.',
  ),
  SIDECAR_MAX_ENTRIES: positiveInt(DEFAULT_BUNDLE_LIMITS.maxEntries).describe(
    'The most files and folders in a bundle.',
  ),
  SIDECAR_MAX_BUILD_BYTES: positiveInt(DEFAULT_BUNDLE_LIMITS.maxBuildBytes).describe(
    'The bundle with the dependencies `npm install` added (what goes into the image); a build past it fails with `bundle_too_large`.',
  ),
  SIDECAR_NPM_REGISTRY: z
    .string()
    .url()
    .default(DEFAULT_NPM_REGISTRY)
    .describe(
      "The only registry builds use (also for a lockfile's `resolved` URLs); a bundle's `.npmrc` is removed before the install (docs/security.md).",
    ),
  SIDECAR_NPM_PROXY: z.string().url().optional().describe('An HTTP(S) proxy for `npm install` in builds.'),
  SIDECAR_NPM_NO_PROXY: z
    .string()
    .min(1)
    .optional()
    .describe("Hosts `npm install` reaches without the proxy (npm's `noproxy`)."),
  SIDECAR_NPM_CACHE_MAX_BYTES: positiveInt(1024 ** 3).describe(
    "Each app has its own npm cache (`<data dir>/npm-cache/<app>`); one larger than this is emptied before the app's next build.",
  ),
  SIDECAR_BUILD_EXTRA_CA_FILE: z
    .string()
    .optional()
    .describe(
      'A CA bundle trusted by build steps that reach the network (npm install), e.g. a corporate TLS proxy CA; mounted read-only into the build container as `NODE_EXTRA_CA_CERTS`.',
    ),
  SIDECAR_BUILD_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(16)
    .default(2)
    .describe('Builds the worker runs at once (different apps).'),
  SIDECAR_BUNDLE_GRACE_MS: ms(3_600_000).describe(
    'Uploaded bundles no unfinished deploy needs are removed once older than this (swept every 10 min by the worker).',
  ),
  SIDECAR_KEEP_RELEASES: positiveInt(10).describe(
    'Logic images of this many newest releases per app are kept; older ones are removed (such a release cannot be rolled back to: 409 `image_pruned`).',
  ),

  // ---- rollouts and pods ----------------------------------------------------------------------------
  SIDECAR_TARGET: z
    .enum(['docker', 'kubernetes'])
    .default('docker')
    .describe('Where apps run: the local Docker engine or a Kubernetes cluster (docs/kubernetes.md).'),
  SIDECAR_DEPLOY_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(32)
    .default(4)
    .describe('Rollouts the worker runs at once (different apps; one rollout per app at a time).'),
  SIDECAR_READY_TIMEOUT_MS: positiveInt(60_000).describe(
    'How long new pods get to become Ready before a deploy fails (the old pods keep serving).',
  ),
  SIDECAR_BACKOFF_SCALE: z.coerce
    .number()
    .positive()
    .max(1)
    .default(1)
    .describe("Scales the kubelet's crash-loop back-off (10 s doubling to 300 s); the tests use 0.05."),
  SIDECAR_WARM_SANDBOXES: z.coerce
    .number()
    .int()
    .min(0)
    .max(16)
    .default(2)
    .describe(
      'Docker target: network namespaces kept started per port set, so a new pod skips creating its own (kubelet/src/netns-pool.ts); 0 turns the pool off.',
    ),
  SIDECAR_STARTUP_CPU: z
    .string()
    .refine((q) => {
      try {
        return parseCpu(q) >= 0;
      } catch {
        return false;
      }
    }, 'a Kubernetes CPU quantity such as 1 or 1500m, or 0')
    .default('1')
    .describe(
      "Docker target: the CPU limit a starting pod's containers are created with at least; a sidecar has its own again once started, the runtime once the pod is Ready or SIDECAR_STARTUP_CPU_MS after it started (startup CPU boost, kubelet/src/startup-cpu-boost.ts). Never above SIDECAR_MAX_CPU or the engine's CPUs; 0 turns it off.",
    ),
  SIDECAR_STARTUP_CPU_MS: positiveInt(10_000).describe(
    "Docker target: the longest a pod's runtime keeps its startup CPU boost (SIDECAR_STARTUP_CPU) after it started, when the pod is not Ready sooner.",
  ),
  SIDECAR_ROLLBACK_WINDOW_MS: ms(600_000).describe(
    "Docker target: after a rollout the previous release's pods are kept frozen (cgroup freezer, no CPU, their memory kept: tens of MiB per pod, shown on the dashboard's Pods tab and by `sidecar pods`) this long, so a rollback to that release serves in milliseconds (docs/architecture.md); 0 stops them at once.",
  ),
  SIDECAR_LOG_MAX_AGE_MS: positiveInt(7 * 24 * 3600_000).describe(
    'App log lines older than this are dropped when new ones are stored (besides the line cap per app).',
  ),

  // ---- what one tenant may use (docs/security.md) ------------------------------------------------------
  SIDECAR_MAX_MEMORY: quantity(parseMemory, L.maxMemory, '2Gi').describe(
    'The largest memory limit an app may ask for its runtime container (`resources.memory`); more is 422 `limit_exceeded`.',
  ),
  SIDECAR_MAX_CPU: quantity(parseCpu, L.maxCpu, '2 or 1500m').describe(
    'The largest CPU limit an app may ask for its runtime container (`resources.cpu`); more is 422 `limit_exceeded`.',
  ),
  SIDECAR_MAX_REPLICAS: positiveInt(L.maxReplicas).describe(
    'The most replicas an app may ask for; more is 422 `limit_exceeded`.',
  ),
  SIDECAR_MAX_APPS_PER_TOKEN: positiveInt(L.maxAppsPerToken).describe(
    "The most apps one deployer token may have created (and not deleted); one more is 429 `quota_exceeded`. Admin tokens are the operator's and are not counted.",
  ),
  SIDECAR_MAX_JOBS_PER_APP: positiveInt(L.maxJobsPerApp).describe(
    'Jobs of one app pending or running at once; one more is 429 `quota_exceeded`.',
  ),
  SIDECAR_JOB_TIME_LIMIT_MS: positiveInt(3_600_000).describe(
    'A job still running after this long is stopped and fails, saying so.',
  ),
  SIDECAR_JOB_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(32)
    .default(4)
    .describe('Jobs the worker runs at once, all apps together (each app at most SIDECAR_MAX_JOBS_PER_APP).'),
  SIDECAR_MAX_APP_VARS: positiveInt(L.maxVars).describe(
    "Variables of an app's env and secrets together (and of a job's env); more is 422 `limit_exceeded`.",
  ),
  SIDECAR_MAX_APP_VARS_BYTES: positiveInt(L.maxVarsBytes).describe(
    "Bytes of an app's env and secrets together, names and values (and of a job's env); more is 422 `limit_exceeded`. Each value is at most 32 KiB.",
  ),
  SIDECAR_MAX_APP_SETTINGS_BYTES: positiveInt(L.maxSettingsBytes).describe(
    "Bytes of an app's stored settings as JSON (env, secrets, sidecars with a TLS certificate and key); more is 422 `limit_exceeded`.",
  ),
  SIDECAR_APP_LOG_VOLUME_SIZE: quantity(parseMemory, LOG_SHIPPER.defaultVolumeSize, '64Mi').describe(
    "The size of each pod's app-log volume (`/var/log/app`, the `logs` sidecar): `emptyDir.sizeLimit` on Kubernetes, a tmpfs of that size on Docker, whose pages count toward the runtime container's memory limit (docs/sidecars.md).",
  ),
  SIDECAR_GIT_REPO_QUOTA_BYTES: positiveInt(1024 ** 3).describe(
    "The most disk an app's git repository may take; a push that would take it past this is refused, saying so (docs/git-push.md).",
  ),

  // ---- images -----------------------------------------------------------------------------------------
  SIDECAR_RUNTIME_IMAGE: image().describe(
    'Pins the runtime image new releases (and `POST /runtime/rollout`) use; default: the built `runtime-node` image.',
  ),
  SIDECAR_PAUSE_IMAGE: image().describe('The pod sandbox (network holder) image; default: the built `pause` image.'),
  SIDECAR_LOGIC_BASE_IMAGE: image().describe(
    'The base of logic sidecar images; default: the built `logic-base` image.',
  ),
  SIDECAR_BUILDER_IMAGE: image().describe('The image npm installs run in; default: the built `builder-node` image.'),
  SIDECAR_LOG_SHIPPER_IMAGE: image().describe('The `logs` platform sidecar image; default: the built one.'),
  SIDECAR_TLS_TERMINATOR_IMAGE: image().describe('The `tls` platform sidecar image; default: the built one.'),
  SIDECAR_PROCINFO_IMAGE: image().describe('The `procinfo` platform sidecar image; default: the built one.'),

  // ---- Kubernetes ---------------------------------------------------------------------------------------
  SIDECAR_K8S_NAMESPACE: z
    .string()
    .regex(dnsLabel)
    .default('sidecar-apps')
    .describe('Kubernetes target: the namespace all apps live in.'),
  SIDECAR_INGRESS_CLASS: z
    .string()
    .min(1)
    .optional()
    .describe("Kubernetes target: the apps' Ingress class (required with SIDECAR_TARGET=kubernetes)."),
  SIDECAR_INGRESS_HOST_PATTERN: z
    .string()
    .includes('{app}', { message: 'must contain {app}' })
    .optional()
    .describe(
      'Kubernetes target: the host of an app, e.g. `{app}.apps.example.com` (required with SIDECAR_TARGET=kubernetes).',
    ),
  SIDECAR_REGISTRY: z
    .string()
    .regex(/^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/)
    .optional()
    .describe(
      'Registry `host[:port]` logic images (and, on Kubernetes, the runtime and sidecar images) are pushed to; manifests reference them by digest. Required with SIDECAR_TARGET=kubernetes.',
    ),
  SIDECAR_K8S_PROGRESS_DEADLINE_SECONDS: positiveInt(600).describe(
    "Kubernetes target: the Deployment's progressDeadlineSeconds; a rollout that makes no progress for this long is rolled back.",
  ),
  SIDECAR_REGISTRY_USERNAME: z
    .string()
    .min(1)
    .optional()
    .describe(
      'The user the worker pushes images to `SIDECAR_REGISTRY` as (with `SIDECAR_REGISTRY_PASSWORD`); unset: no credentials.',
    ),
  SIDECAR_REGISTRY_PASSWORD: z
    .string()
    .min(1)
    .optional()
    .describe("That user's password (from a Secret on Kubernetes: deploy/kubernetes/worker.yaml)."),
  SIDECAR_K8S_IMAGE_PULL_SECRET: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/)
    .optional()
    .describe(
      "Kubernetes target: a `kubernetes.io/dockerconfigjson` Secret in the apps' namespace that every app pod names in `imagePullSecrets`: the nodes' credentials for `SIDECAR_REGISTRY`.",
    ),
  SIDECAR_K8S_INGRESS_NAMESPACE_SELECTOR: labelSelector()
    .prefault('kubernetes.io/metadata.name=ingress-nginx')
    .describe(
      "Kubernetes target: labels of the ingress controller's namespace, the only namespace whose pods may connect to app pods (the apps' NetworkPolicy).",
    ),
  SIDECAR_K8S_INGRESS_POD_SELECTOR: labelSelector()
    .optional()
    .describe(
      'Kubernetes target: labels of the ingress controller pods in that namespace, e.g. `app.kubernetes.io/name=ingress-nginx`; unset: any pod of that namespace.',
    ),
  SIDECAR_K8S_DNS_NAMESPACE_SELECTOR: labelSelector()
    .prefault('kubernetes.io/metadata.name=kube-system')
    .describe("Kubernetes target: labels of the cluster DNS's namespace (app pods may reach its port 53)."),
  SIDECAR_K8S_DNS_POD_SELECTOR: labelSelector()
    .prefault('k8s-app=kube-dns')
    .describe('Kubernetes target: labels of the cluster DNS pods (CoreDNS keeps `k8s-app=kube-dns`).'),
  SIDECAR_K8S_PRIVATE_CIDRS: z
    .string()
    .refine((v) => v.split(',').every((c) => CIDR.test(c.trim())), 'CIDRs separated by commas')
    .transform((v) => v.split(',').map((c) => c.trim()))
    .prefault(DEFAULT_PRIVATE_CIDRS.join(','))
    .describe(
      "Kubernetes target: address ranges app pods never reach, whatever their egress setting: the cluster's pod, service and node networks and cloud metadata. The default covers the private, shared, link-local and loopback ranges (IPv4 and IPv6); add your cluster's ranges if they are public.",
    ),

  // ---- git push -------------------------------------------------------------------------------------------
  SIDECAR_GIT_HTTP_BACKEND: z
    .string()
    .min(1)
    .default('/usr/lib/git-core/git-http-backend')
    .describe("git's CGI program (docs/git-push.md)."),
  SIDECAR_GIT_LOCK_WAIT_MS: ms(60_000).describe("How long a second push waits for the app's deploy lock."),
  SIDECAR_GIT_PUSH_TIMEOUT_MS: positiveInt(30 * 60_000).describe('How long a push waits for its deploy.'),
  SIDECAR_GIT_MAX_PUSH_BYTES: positiveInt(2 * 1024 ** 3).describe('The largest pack a push may send.'),

  // ---- the CLI ----------------------------------------------------------------------------------------------
  SIDECAR_RUN_DIR: z
    .string()
    .min(1)
    .optional()
    .describe(
      '`sidecar pod run`: the directory of the control sockets of running pods (default `$TMPDIR/sidecar-pods`).',
    ),
  SIDECAR_API_URL: z
    .string()
    .url()
    .optional()
    .describe(
      "The API the `sidecar` CLI talks to, e.g. `http://127.0.0.1:3000`; overrides the current context's (`sidecar login`).",
    ),
  SIDECAR_TOKEN: z
    .string()
    .min(1)
    .optional()
    .describe("The API token the `sidecar` CLI sends; overrides the current context's (`sidecar login`)."),
});
export type PlatformEnv = z.infer<typeof PlatformEnv>;
export type VariableName = keyof typeof PlatformEnv.shape;
