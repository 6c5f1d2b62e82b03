/** The variants each framework is measured with; `bare` first. */
export declare const VARIANTS: Record<string, string[]>;
