// A small element builder: the client is plain DOM, re-rendered per screen.

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attributes: Attributes = {},
    ...children: Child[]
): HTMLElementTagNameMap[K] {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
        if (value === undefined || value === false) continue;
        if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
        else if (value === true) element.setAttribute(name, '');
        else element.setAttribute(name, String(value));
    }
    for (const child of children) if (child !== null && child !== undefined && child !== false) element.append(child);
    return element;
}

/** A labelled text field: the label's text is the field's accessible name. */
export function field(label: string, input: HTMLInputElement | HTMLTextAreaElement): HTMLLabelElement {
    return h('label', { class: 'field' }, h('span', {}, label), input);
}

/** Empties a field once what was typed in it is done with (the screen may have been re-rendered since). */
export function clearField(id: string): void {
    const element = document.getElementById(id);
    if (element instanceof HTMLInputElement) element.value = '';
}
