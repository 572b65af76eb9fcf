import { h } from './dom.js';

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). Resolves true on confirm. */
export function confirmDialog(opts: { title: string; body: string; confirm: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const cancelBtn = h('button', { type: 'button', class: 'btn', value: 'cancel' }, 'Cancel');
    const okBtn = h('button', { type: 'button', class: 'btn btn-primary', value: 'ok' }, opts.confirm);
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-body' },
      h('h2', { id: 'dialog-title' }, opts.title),
      h('p', { id: 'dialog-body' }, opts.body),
      h('div', { class: 'button-row end' }, cancelBtn, okBtn),
    );
    let result = false;
    cancelBtn.addEventListener('click', () => dialog.close());
    okBtn.addEventListener('click', () => {
      result = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancelBtn.focus(); // the safe choice has focus
  });
}
