/** The typed handle a webview gets from VS Code (acquireVsCodeApi may be called only once per load). */
export interface VsCodeApi<State, Outgoing> {
  postMessage(message: Outgoing): void;
  getState(): State | undefined;
  setState(state: State): State;
}

declare function acquireVsCodeApi<State, Outgoing>(): VsCodeApi<State, Outgoing>;

export function getVsCodeApi<State, Outgoing>(): VsCodeApi<State, Outgoing> {
  return acquireVsCodeApi<State, Outgoing>();
}

/** Calls `handler` for every message the extension posts to this webview. */
export function onExtensionMessage<Incoming>(handler: (message: Incoming) => void): void {
  window.addEventListener('message', (e: MessageEvent<Incoming>) => handler(e.data));
}
