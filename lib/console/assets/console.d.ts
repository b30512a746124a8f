// console.js is the browser's script; the function imports its source as text (lib/console/assets.ts).
declare const text: string;
export default text;
