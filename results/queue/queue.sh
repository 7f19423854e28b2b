#!/bin/bash
# Runs the jobs of jobs.txt one after another; a job whose results.json exists is skipped,
# an interrupted one resumes from its checkpoint. jobs.txt is re-read before each job.
cd "$(dirname "$0")"
export ADADECAY_DATA_DIR=/work/shared/data
while true; do
  job=""
  while IFS='|' read -r name src config overrides; do
    [ -z "$name" ] && continue
    [ -f "work/$name/results.json" ] && continue
    job="$name|$src|$config|$overrides"; break
  done < jobs.txt
  [ -z "$job" ] && { echo "$(date -u +%FT%TZ) queue empty"; exit 0; }
  IFS='|' read -r name src config overrides <<< "$job"
  echo "$(date -u +%FT%TZ) start $name ($src $config $overrides)"
  read -ra args <<< "$overrides"
  ( cd "$src" && exec ../venv/bin/python -m train --config "$config" --workdir "$HOME/runs/work/$name" "${args[@]}" ) > "logs/$name.log" 2>&1
  rc=$?
  echo "$(date -u +%FT%TZ) end $name rc=$rc"
  [ $rc -ne 0 ] && { echo "stopping: $name failed"; exit 1; }
done
