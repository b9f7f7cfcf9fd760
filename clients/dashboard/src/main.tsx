import './zod-jitless';
import { render } from 'preact';
import { App } from './app';
import { getStore } from './store';
import './styles.css';

render(<App />, document.getElementById('app')!);
void getStore().start();
