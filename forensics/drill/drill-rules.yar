// The drill's inspection rule, shipped with the project: `forensics drill` uploads the EICAR
// anti-malware test string to the canary bucket and expects the inspector to match it here.
rule forensics_drill_eicar_test_file : drill {
  meta:
    description = "EICAR anti-malware test file (harmless), uploaded by the forensics drill"
    severity = "high"
  strings:
    $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition:
    $eicar
}
