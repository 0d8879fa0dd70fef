/**
 * Where the streaming API is: the URL the server gives in instance v2
 * (configuration.urls.streaming; some servers stream from another host), reached where the
 * bot reaches that host (the sandbox plays named hosts locally), else the API's own origin —
 * nginx sends /api/v1/streaming to the streaming server. https becomes wss, http ws.
 */
export function streamingUrl(
  announced: string | undefined,
  apiOrigin: string,
  originOf: (host: string) => string,
): string {
  let origin = apiOrigin;
  if (announced) {
    try {
      const host = new URL(announced).host;
      origin = host === new URL(apiOrigin).host ? apiOrigin : originOf(host);
    } catch {
      // not a URL: the API's own origin
    }
  }
  return `${origin.replace(/^http/, "ws").replace(/\/+$/, "")}/api/v1/streaming`;
}
