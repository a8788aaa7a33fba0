import * as z from 'zod/mini';
import { en } from 'zod/locales';

// zod/mini ships without messages ("Invalid input"); English ones name what was expected.
z.config(en());
