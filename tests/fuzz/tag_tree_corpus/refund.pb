
 
context*

event_idr-1


event_namerefund