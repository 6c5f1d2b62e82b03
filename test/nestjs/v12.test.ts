import { nestSuite } from './suite.js';
import * as nest from './v12/nest.js';

nestSuite(nest);
