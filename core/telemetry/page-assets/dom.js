// What the telemetry pages' scripts share (the status page, the trace view): building DOM nodes.
// A classic script loaded before each page's own; values always go in as text nodes or attributes,
// never as HTML, because names and messages on these pages come from senders and the network.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an element: el('div', { class: 'x', dataset: { a: '1' }, onclick: f }, child, 'text'). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Builds an SVG element with the given attributes. */
function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}
