import http from 'node:http';
import https from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';

/** Bytes of an error answer read for its message. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * Follows one container's log: `GET .../pods/<pod>/log?container=&follow=true&timestamps=true[&sinceTime=]`,
 * answering the response body as a stream (lines `<RFC 3339 nano time> <text>`, stdout and stderr
 * merged by the kubelet). A raw request rather than the client's `Log`: that one pipes the body
 * into the caller's stream and drops its errors and aborts, so a reset connection would leave the
 * follower waiting forever. The request carries the kubeconfig's credentials, TLS settings and proxy
 * (`applyToHTTPSOptions`). A non-200 answer rejects with an `ApiException` holding the API's Status.
 */
export async function followPodLog(
  kc: KubeConfig,
  o: { namespace: string; pod: string; container: string; sinceTime?: string; signal: AbortSignal },
): Promise<http.IncomingMessage> {
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new Error(`no current cluster in the Kubernetes configuration (context "${kc.getCurrentContext()}")`);
  const url = new URL(
    `${cluster.server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods/${encodeURIComponent(o.pod)}/log`,
  );
  url.searchParams.set('container', o.container);
  url.searchParams.set('follow', 'true');
  url.searchParams.set('timestamps', 'true');
  if (o.sinceTime) url.searchParams.set('sinceTime', o.sinceTime);
  const options: https.RequestOptions = { method: 'GET', headers: {} };
  await kc.applyToHTTPSOptions(options);
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { ...options, signal: o.signal }, resolve);
    req.on('error', reject);
    req.end();
  });
  if (res.statusCode === 200) return res;
  const body = await readSome(res);
  res.destroy();
  throw new ApiException(res.statusCode ?? 0, `reading the log of ${o.pod}/${o.container}`, body, {});
}

async function readSome(res: http.IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) {
    text += String(chunk);
    if (text.length >= MAX_ERROR_BODY) break;
  }
  return text.slice(0, MAX_ERROR_BODY);
}
