import { describe, expect, it } from 'vitest';
import { parseClientMessage } from './message-parser';

describe('parseClientMessage', () => {
  it('accepts a valid message and returns it typed', () => {
    expect(parseClientMessage('{"type":"subscribe","id":"c1","cameras":"*"}')).toEqual({
      ok: true,
      message: { type: 'subscribe', id: 'c1', cameras: '*' },
    });
  });
  it.each([
    ['{', 'bad_json', null],
    ['', 'bad_json', null],
    ['[1,2]', 'bad_message', null],
    ['null', 'bad_message', null],
    ['"subscribe"', 'bad_message', null],
    ['{"id":"a"}', 'bad_message', 'a'],
    ['{"type":7,"id":"a"}', 'bad_message', 'a'],
    ['{"type":"fly","id":"a"}', 'unknown_type', 'a'],
    ['{"type":"__proto__","id":"a"}', 'unknown_type', 'a'],
    ['{"type":"toString","id":"a"}', 'unknown_type', 'a'],
    ['{"type":"subscribe","id":"a","cameras":5}', 'bad_message', 'a'],
    ['{"type":"subscribe","cameras":"*"}', 'bad_message', null],
    ['{"type":"subscribe","id":{"x":1},"cameras":"*"}', 'bad_message', null],
    ['{"type":"camera.add","id":"a","url":"file:///x","evil":1}', 'bad_message', 'a'],
  ])('%s -> %s', (text, code, id) => {
    expect(parseClientMessage(text)).toMatchObject({ ok: false, code, id });
  });
  it('names the fields at fault: missing as "required", wrong type, limits', () => {
    const r = parseClientMessage('{"type":"camera.add","id":"a","fps":"fast","name":""}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toMatch(/^camera\.add: /);
    expect(r.message).toContain('url: required');
    expect(r.message).toContain('fps:');
    expect(r.message).toContain('name:');
  });
  it('never echoes values (a URL with a password, a token)', () => {
    const r = parseClientMessage('{"type":"camera.add","id":"a","url":"rtsp://bob:s3cret@h/x","fps":-1}');
    expect(JSON.stringify(r)).not.toContain('s3cret');
    const t = parseClientMessage('{"type":"auth","token":"tok-SECRET","zz":1}');
    expect(JSON.stringify(t)).not.toContain('SECRET');
    const u = parseClientMessage(`{"type":"rtsp://bob:s3cret@h","id":"a"}`);
    expect(JSON.stringify(u)).not.toContain('s3cret');
  });
  it('keeps messages short for huge or deeply nested input', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const r = parseClientMessage(`{"type":"subscribe","id":"a","cameras":${deep}}`);
    expect(r).toMatchObject({ ok: false, code: 'bad_message' });
    const keys = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`.repeat(20), i]));
    const k = parseClientMessage(JSON.stringify({ type: 'camera.list', id: 'a', ...keys }));
    expect(k.ok || k.message.length).toBeLessThan(400);
  });
});
