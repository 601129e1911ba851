
 
context*

event_idw-1

currencyJPY
w
partnersk*i
g
openai]*[
#
custom_event_nameWishlist Add

opt_outfalse

plan_idp1

opprefabc
@
products422
0*.

skus1

product*

price12.50
)
order *

ido-9

total12.5


event_nameadd_to_wishlist