import type { Command } from 'commander';
import type { CommandEnv } from '../command-env.js';

/** `sidecar completion bash|zsh`: a completion script made from the commands as they are defined. */
export function registerCompletion(program: Command, env: CommandEnv): void {
  program
    .command('completion')
    .description('print a shell completion script: eval "$(sidecar completion bash)" (or zsh)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh')
        program.error(`completion: bash or zsh, not "${shell}"`, { exitCode: 2 });
      env.ui.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });
}

const visible = (cmd: Command) => cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
const flags = (cmd: Command) => [...cmd.options.flatMap((o) => [o.short, o.long]), '--help'].filter(Boolean).join(' ');

/**
 * Completes commands, subcommands and flags: the words typed so far pick the (sub)command, whose
 * subcommands and flags are offered; anything else falls back to file names.
 */
export function bashCompletion(program: Command): string {
  const cases: string[] = [];
  for (const cmd of visible(program)) {
    const subs = visible(cmd);
    for (const sub of subs) cases.push(`    "${cmd.name()} ${sub.name()}") words="${flags(sub)}" ;;`);
    const own = [...subs.map((s) => s.name()), flags(cmd)].join(' ');
    cases.push(`    "${cmd.name()} "*) words="${own}" ;;`);
  }
  cases.push(`    *) words="${[...visible(program).map((c) => c.name()), flags(program)].join(' ')}" ;;`);
  return `# sidecar completion for bash: eval "$(sidecar completion bash)"
_sidecar_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" sub="" words="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi
  done
  case "$cmd $sub" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _sidecar_complete sidecar
`;
}

/** zsh runs the bash completion through its bashcompinit layer. */
export function zshCompletion(program: Command): string {
  return `#compdef sidecar
# sidecar completion for zsh: eval "$(sidecar completion zsh)"
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split('\n').slice(1).join('\n')}`;
}
