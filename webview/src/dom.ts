/**
 * A tiny DOM builder. Everything is created through the DOM API (never innerHTML) so that file names and model
 * output can never inject markup, and styles are set through CSSOM properties, which a nonce-only CSP allows.
 */
type Child = Node | string | number | null | undefined | false;

export interface Props {
  id?: string;
  className?: string;
  title?: string;
  text?: string;
  attrs?: Record<string, string>;
  on?: Partial<Record<string, (e: Event) => void>>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, props?: Props, ...children: Child[]): HTMLElement;
export function h(tag: string, props: Props = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  if (props.id) el.id = props.id;
  if (props.className) el.className = props.className;
  if (props.title) el.title = props.title;
  if (props.text !== undefined) el.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  for (const [name, handler] of Object.entries(props.on ?? {})) if (handler) el.addEventListener(name, handler);
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Element #${id} is missing`);
  return el as T;
}

/** The page's main landmark, made once: every view builds its content inside it, so screen readers can jump there. */
export function mainLandmark(): HTMLElement {
  const existing = document.querySelector('main');
  if (existing) return existing;
  const main = h('main', { id: 'main' });
  document.body.appendChild(main);
  return main;
}

/**
 * A visually hidden polite live region in the main landmark. The returned function sets its words; screen readers
 * announce a change only when the words change, so callers can pass the same sentence on every render.
 */
export function liveAnnouncer(id: string): (text: string) => void {
  const region = h('p', { id, className: 'sr-only', attrs: { role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' } });
  mainLandmark().appendChild(region);
  return (text) => {
    if (region.textContent !== text) region.textContent = text;
  };
}
