// The console's page and style are imported as text (lib/console/assets.ts).
declare module '*.html' {
  const text: string;
  export default text;
}
declare module '*.css' {
  const text: string;
  export default text;
}
