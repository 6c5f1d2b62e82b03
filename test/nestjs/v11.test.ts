import { nestSuite } from './suite.js';
import * as nest from './v11/nest.js';

nestSuite(nest as unknown as typeof import('./v12/nest.js'));
