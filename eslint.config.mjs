// Flat config: typescript-eslint's recommended rules plus Pulumi's rules that catch
// Outputs interpolated into template strings (a classic silent bug).
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "coverage/", "out/", "bin/*.js", "scripts/*.js"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    plugins: { pulumi },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "pulumi/no-output-in-template-literal": "error",
      "pulumi/no-output-instance-in-template-literal": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
);
