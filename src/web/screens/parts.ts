// What the list screens (contacts, groups, moments) are made of: one-field forms that act and empty
// themselves, and lists of people or groups whose items are named for screen readers and tests.

import type { App } from '../app';
import { clearField, field, h } from '../dom';

type Child = Node | string | null | undefined | false;

/** A screen's frame. */
export function screen(...children: Child[]): HTMLElement {
    return h('main', { class: 'screen' }, ...children);
}

export interface EntryForm {
    /** The field's id: it keeps focus and text across re-renders, and is emptied once `submit` is done. */
    id: string;
    label: string;
    button: string;
    primary?: boolean;
    placeholder?: string;
    /** Runs with the trimmed text (never empty); a failure shows as the screen's alert. */
    submit: (value: string) => Promise<unknown>;
    /** A class beside `inline` (`card` on a screen, none inside a card). */
    card?: boolean;
}

/** A labelled field with its button, as one inline form. */
export function entryForm(app: App, spec: EntryForm): HTMLFormElement {
    const input = h('input', { id: spec.id, autocomplete: 'off', placeholder: spec.placeholder });
    return h(
        'form',
        {
            class: spec.card === false ? 'inline' : 'inline card',
            onsubmit: (event: Event) => {
                event.preventDefault();
                const value = input.value.trim();
                if (value) app.act(() => spec.submit(value).then(() => clearField(spec.id)));
            },
        },
        field(spec.label, input),
        h('button', { type: 'submit', class: spec.primary ? 'primary' : undefined }, spec.button),
    );
}

/** A list named `label` whose items are named by their ID; nothing at all when `ids` is empty and `empty` unset. */
export function namedList(label: string, ids: readonly string[], item: (id: string) => Child[], empty?: string): HTMLElement | null {
    if (ids.length === 0) return empty ? h('p', { class: 'hint' }, empty) : null;
    return h('ul', { class: 'people', 'aria-label': label }, ...ids.map((id) => h('li', { 'aria-label': id }, ...item(id))));
}
